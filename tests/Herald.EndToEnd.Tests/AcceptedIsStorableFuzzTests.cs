using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Herald.Core.Notifications;
using Herald.Core.Routing;
using Herald.EndToEnd.Tests.Infrastructure;
using Herald.Ingest.Files;
using Herald.Ingest.Iso20022;
using Herald.Ingest.Mapped;
using Herald.Ingest.Native;
using Herald.Ingest.Sources;
using Herald.Storage;
using Microsoft.Extensions.DependencyInjection;

namespace Herald.EndToEnd.Tests;

/// <summary>"Accepted ⇒ storable" on PostgreSQL, whose text and jsonb refuse what SQLite keeps.</summary>
public sealed class PostgresAcceptedIsStorableFuzzTests(PipelineHostFixture fixture)
    : AcceptedIsStorableFuzzTests(() => fixture.Host), IClassFixture<PipelineHostFixture>;

/// <summary>The same on SQLite: what it accepts must be what PostgreSQL accepts.</summary>
public sealed class SqliteAcceptedIsStorableFuzzTests(SqlitePipelineHostFixture fixture)
    : AcceptedIsStorableFuzzTests(() => fixture.Host), IClassFixture<SqlitePipelineHostFixture>;

/// <summary>
/// Every parser and validator that reaches storage, fed the fixtures with hostile values spliced in (NUL and control
/// characters, lone surrogates, noncharacters, invalid UTF-8, huge numbers and strings, deep nesting): whatever a parser
/// accepts is then stored, one notification at a time, on the real backend, and must be (issue #13). The APIs that
/// store documents (customers, templates, rules) get the same values over HTTP: never a 5xx.
/// </summary>
public abstract partial class AcceptedIsStorableFuzzTests(Func<HeraldHost> host)
{
    private const int Iterations = 150;

    // JSON string contents (escaped as JSON text) that probe what storage can hold.
    private static readonly string[] JsonPieces =
    [
        "\\u0000", "\\ud800", "\\udfff", "\\ud83d\\ude00", "\\ud83d", "\\ude00x", "\\u0001", "\\u001f", "\\u007f", "\\uffff", "\\ufffe",
        "\\ufffd", "\\\\u0000", "\\\"", "\\n\\t", "é", "😀", "\u2028", "plain", "a b", new string('x', 3000), "%00", "\\u00",
    ];

    // The same as text (an Idempotency-Key header value as the parser gets it).
    private static readonly string[] TextPieces = ["\0", "\ud800", "\udc00", "\ud83d\ude00", "\u0001", "\uffff", "ok"];

    private static readonly string[] Numbers =
    [
        "1e999999", "1e1000", "1e1001", "-1E-1001", "1.5e+0999", "1" + new string('0', 1200), "0." + new string('0', 990) + "1", "-0", "1e-1000",
        "123456789012345678901234567890", "0.1e0001000",
    ];

    // Raw bytes for lines of files.
    private static readonly byte[][] BytePieces =
    [
        [0x00], [0xFF], [0xC3, 0x28], [0xED, 0xA0, 0x80], [0xE2, 0x82], [0xEF, 0xBF, 0xBF], [0x01], [0x1F], [0xF0, 0x9F, 0x98, 0x80],
        "\"x\"\"y\""u8.ToArray(), [0xC3, 0xA9], "plain"u8.ToArray(),
    ];

    private static readonly string[] XmlPieces = ["&#0;", "&#xD800;", "&#x1;", "&#xFFFF;", "&#xFFFD;", "\u0001", "\u00e9", "&amp;", "plain", "&#x1F600;"];

    private HeraldHost Host => host();

    [Fact]
    public async Task NativeJson_AcceptedIsStorable()
    {
        var store = await BeginAsync();
        var fixture = FixtureText("native/notification.json");
        await RunAsync(store, 1, random =>
        {
            var json = Encoding.UTF8.GetBytes(SpliceJson(fixture, random));
            var (n, _) = NotificationParser.Parse(json, store.Tenant, null, random.Next(4) == 0 ? Hostile(random, TextPieces) : null);
            return (json, n is null ? [] : [n]);
        });
    }

    [Fact]
    public async Task MappedJson_AcceptedIsStorable()
    {
        var store = await BeginAsync();
        foreach (var (name, seed) in new[] { ("fraud-engine", 2), ("card-processor", 3) })
        {
            var config = Config(SourceAdapter.Mapped, $"mapped/{name}.settings.json");
            var fixture = FixtureText($"mapped/{name}.json");
            await RunAsync(store, seed, random =>
            {
                var json = Encoding.UTF8.GetBytes(SpliceJson(fixture, random));
                var document = MappedJsonAdapter.Adapt(json, config.Mapping!, store.Tenant, Guid.NewGuid());
                return (json, [.. document.Items.Select(i => i.Notification).OfType<NewNotification>()]);
            });
        }
    }

    [Fact]
    public async Task Camt054_AcceptedIsStorable()
    {
        var store = await BeginAsync();
        var config = Config(SourceAdapter.Iso20022, "camt054/source-settings.json");
        var fixture = FixtureText("camt054/camt.054.001.08.xml");
        await RunAsync(store, 4, random =>
        {
            var xml = Encoding.UTF8.GetBytes(XmlText().Replace(fixture, m => random.Next(25) == 0 ? ">" + Hostile(random, XmlPieces) + "<" : m.Value));
            var document = Camt054Adapter.Adapt(xml, config.Camt!, store.Tenant, Guid.NewGuid(), 10_000_000);
            return (xml, [.. document.Items.Select(i => i.Notification).OfType<NewNotification>()]);
        });
    }

    [Fact]
    public async Task Files_AcceptedIsStorable()
    {
        var store = await BeginAsync();
        foreach (var (file, settings, seed) in new[] { ("files/transactions.csv", "files/transactions.settings.json", 5), ("files/statement.txt", "files/statement.settings.json", 6) })
        {
            var config = Config(SourceAdapter.File, settings);
            var lines = File.ReadAllLines(Path.Combine(AppContext.BaseDirectory, "Fixtures", file));
            await RunAsync(store, seed, random =>
            {
                var bytes = new List<byte>();
                for (var i = 0; i < lines.Length; i++)
                {
                    var line = Encoding.UTF8.GetBytes(lines[i]);
                    var at = i > 1 && random.Next(2) == 0 ? random.Next(line.Length + 1) : -1;
                    bytes.AddRange(at < 0 ? line : [.. line[..at], .. BytePieces[random.Next(BytePieces.Length)], .. line[at..]]);
                    bytes.Add((byte)'\n');
                }

                var body = bytes.ToArray();
                var items = new List<NewNotification>();
                try
                {
                    var read = FileAdapter.ReadAsync(new MemoryStream(body), config.Layout!, config.Mapping!, store.Tenant, Guid.NewGuid(), 4096, CancellationToken.None);
                    foreach (var item in read.ToBlockingEnumerable())
                    {
                        if (item.Notification is { } n)
                        {
                            items.Add(n);
                        }
                    }
                }
                catch (FileRefusedException)
                {
                    // Refused as a whole: nothing to store.
                }

                return (body, items);
            });
        }
    }

    [Fact]
    public async Task DocumentApis_NeverAnswer5xx_ForHostileText()
    {
        var (_, client) = await Host.CreateTenantAsync();
        var random = new Random(7);
        for (var i = 0; i < 60; i++)
        {
            var s = Hostile(random, JsonPieces);
            (string Method, string Path, string Body)[] calls =
            [
                ("PUT", $"/v1/customers/c-{i}", $$$"""{"phone":"+4915112345678","language":"en","attributes":{"tier":"{{{s}}}","{{{s}}}":"x"}}"""),
                ("POST", "/v1/templates", $$"""{"name":"card.transaction","channel":"sms","language":"en","body":"Paid {{s}}"}"""),
                ("PUT", "/v1/rules", $$$"""{"rules":[{"name":"r{{{s}}}","then":{"tags":["{{{s}}}"]}}]}"""),
                ("POST", "/v1/sources", $$"""{"name":"{{s}}","adapter":"native"}"""),
            ];
            foreach (var (method, path, body) in calls)
            {
                using var request = new HttpRequestMessage(new HttpMethod(method), path)
                {
                    Content = new ByteArrayContent(Encoding.UTF8.GetBytes(body)) { Headers = { ContentType = new MediaTypeHeaderValue("application/json") } },
                };
                using var response = await client.SendAsync(request);
                Assert.True((int)response.StatusCode < 500, $"{method} {path} with {body}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
            }
        }
    }

    private static string Hostile(Random random, string[] pieces) =>
        string.Concat(Enumerable.Range(0, random.Next(1, 5)).Select(_ => pieces[random.Next(pieces.Length)]));

    // Replaces some string contents and numbers of a JSON text with hostile ones, and now and then nests deeply.
    private static string SpliceJson(string json, Random random)
    {
        var spliced = JsonString().Replace(json, m => random.Next(12) == 0 ? "\"" + Hostile(random, JsonPieces) + "\"" : m.Value);
        spliced = JsonNumber().Replace(spliced, m => random.Next(4) == 0 ? m.Groups[1].Value + Numbers[random.Next(Numbers.Length)] : m.Value);
        if (random.Next(10) == 0)
        {
            var depth = random.Next(10, 300);
            spliced = spliced.Replace("\"data\": {", "\"data\": {\"deep\": " + new string('[', depth) + new string(']', depth) + ",", StringComparison.Ordinal);
        }

        return spliced;
    }

    private async Task<Store> BeginAsync()
    {
        var (tenant, _) = await Host.CreateTenantAsync();
        return new Store(tenant, Host.Services.GetRequiredService<INotificationStore>(), Host.Services.GetRequiredService<IRouter>());
    }

    private static async Task RunAsync(Store store, int seed, Func<Random, (byte[] Input, IReadOnlyList<NewNotification> Accepted)> parse)
    {
        var random = new Random(seed);
        var accepted = 0;
        for (var i = 0; i < Iterations; i++)
        {
            var (input, notifications) = parse(random);
            foreach (var n in notifications)
            {
                // Each on its own, with a fresh key, so a refusal is this input's and no earlier row dedupes it away.
                var request = n with { TenantId = store.Tenant, SourceId = null, DedupeKey = n.DedupeKey is null ? null : n.DedupeKey + ":" + Guid.NewGuid().ToString("N") };
                try
                {
                    var prepared = new PreparedNotification(Guid.CreateVersion7(), request, store.Router.Decide(request)) { RequestHash = RequestFingerprint.Of(request) };
                    var result = await store.Notifications.AcceptAsync([prepared], TimeProvider.System.GetUtcNow(), CancellationToken.None);
                    Assert.True(result[0].Created);
                    accepted++;
                }
                catch (Exception e) when (e is not Xunit.Sdk.XunitException)
                {
                    Assert.Fail($"Accepted but not storable ({e.GetType().Name}: {e.Message.Split('\n')[0]}); input (base64): {Convert.ToBase64String(input)}");
                }
            }
        }

        // The hostile values must not have made every input a refusal: the property is only as good as what got through.
        Assert.True(accepted > 0, "No input was accepted; the fuzzing proves nothing.");
    }

    private static SourceConfig Config(SourceAdapter adapter, string settings)
    {
        using var json = JsonDocument.Parse(FixtureText(settings));
        var (config, errors) = SourceConfig.Parse(adapter, json.RootElement);
        Assert.Empty(errors);
        return config!;
    }

    private static string FixtureText(string name) => File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Fixtures", name));

    [GeneratedRegex("\"(?:[^\"\\\\]|\\\\.)*\"")]
    private static partial Regex JsonString();

    [GeneratedRegex("([:\\[,]\\s*)-?[0-9]+(?:\\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")]
    private static partial Regex JsonNumber();

    [GeneratedRegex(">[^<]+<")]
    private static partial Regex XmlText();

    private sealed record Store(Guid Tenant, INotificationStore Notifications, IRouter Router);
}
