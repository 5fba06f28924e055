using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Herald.EndToEnd.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace Herald.EndToEnd.Tests;

/// <summary>Hostile neighbours on PostgreSQL, where an unstorable text used to fail a whole group commit (issue #13).</summary>
public sealed class PostgresHostileNeighbourTests(PipelineHostFixture fixture)
    : HostileNeighbourTests(() => fixture.Host), IClassFixture<PipelineHostFixture>
{
    /// <summary>
    /// A refusal the edge cannot foresee (here a CHECK constraint on the test database, on the notification's type: its
    /// contacts and data are sealed at rest, out of a constraint's sight): the group commit that holds
    /// the refused notification is split until only that one fails, with a 400 for its sender; every other
    /// notification of the group, the other tenant's and the sender's own valid ones, is stored.
    /// </summary>
    [Fact]
    public async Task GroupCommit_RefusedForOneItemsData_FailsOnlyThatItem()
    {
        var (_, victim) = await Host.CreateTenantAsync("Victim Bank");
        var (_, attacker) = await Host.CreateTenantAsync("Attacker Bank");
        await ExecuteAsync("ALTER TABLE notifications ADD CONSTRAINT herald_test_poison CHECK (type NOT LIKE 'poison.%') NOT VALID");
        try
        {
            var poisoned = Enumerable.Range(0, 60).Select(async i =>
            {
                var body = $$$"""{"type":"poison.{{{i}}}","customer":{"phone":"+4915112345678"},"data":{"text":"x"}}""";
                var (status, answer) = await PostRawAsync(attacker, Encoding.UTF8.GetBytes(body));
                Assert.True(status == HttpStatusCode.BadRequest, $"Poisoned send {i}: expected 400, got {(int)status}: {answer}");
                Assert.Contains("SQLSTATE 23514", answer, StringComparison.Ordinal);
            });

            await RunWithVictimAsync(victim, poisoned);

            // A batch: the refused item is rejected, located; the others are stored.
            var phone = TestData.Phone();
            var (batchStatus, batchBody) = await PostRawAsync(victim, Encoding.UTF8.GetBytes($$$"""
                {"items":[
                  {"type":"card.transaction","customer":{"phone":"{{{phone}}}"},"data":{"text":"one"}},
                  {"type":"poison.x","customer":{"phone":"{{{phone}}}"},"data":{"text":"two"}},
                  {"type":"card.transaction","customer":{"phone":"{{{phone}}}"},"data":{"text":"three"}}]}
                """), "/v1/notifications/batch");
            Assert.True(batchStatus == HttpStatusCode.Accepted, $"Expected 202, got {(int)batchStatus}: {batchBody}");
            var result = JsonNode.Parse(batchBody)!;
            Assert.Equal(2, result["accepted"]!.GetValue<int>());
            var refused = result["items"]![1]!;
            Assert.Equal("rejected", refused["outcome"]!.GetValue<string>());
            Assert.Equal("/items/1", refused["errors"]![0]!["pointer"]!.GetValue<string>());
        }
        finally
        {
            await ExecuteAsync("ALTER TABLE notifications DROP CONSTRAINT herald_test_poison");
        }
    }

    private async Task ExecuteAsync(string sql)
    {
        await using var command = fixture.Host.Services.GetRequiredService<Npgsql.NpgsqlDataSource>().CreateCommand(sql);
        await command.ExecuteNonQueryAsync();
    }
}

/// <summary>The same on SQLite, which would store a NUL: both backends must answer alike.</summary>
public sealed class SqliteHostileNeighbourTests(SqlitePipelineHostFixture fixture)
    : HostileNeighbourTests(() => fixture.Host), IClassFixture<SqlitePipelineHostFixture>;

/// <summary>
/// One tenant sends hostile bodies while another sends valid traffic through the same node (and the same group
/// commits): the victim's every request is accepted and delivered, the attacker gets only located 4xx problems.
/// Template bombs and memory budgets are covered where templates are rendered; this class owns what ingest stores.
/// </summary>
public abstract class HostileNeighbourTests(Func<HeraldHost> host)
{
    private const int VictimSends = 40;

    protected HeraldHost Host => host();

    /// <summary>Bodies PostgreSQL cannot store (text and jsonb refuse NUL; jsonb refuses lone surrogate escapes),
    /// each with the pointer of the refused value.</summary>
    public static readonly (string Body, string Pointer)[] Unstorable =
    [
        ("""{"type":"card.transaction","customer":{"phone":"+4915112345678"},"data":{"text":"a\u0000b"}}""", "/data/text"),
        ("""{"type":"card.transaction","customer":{"phone":"+4915112345678"},"data":{"a\u0000":"x"}}""", "/data"),
        ("""{"type":"card.transaction","externalId":"ext-\u0000","customer":{"phone":"+4915112345678"}}""", "/externalId"),
        ("""{"type":"card.transaction","customer":{"id":"c\u0000","phone":"+4915112345678"}}""", "/customer/id"),
        ("""{"type":"card.transaction","customer":{"phone":"+4915112345678"},"data":{"t":"\ud800"}}""", "/data/t"),
        ("""{"type":"card.transaction","customer":{"phone":"+4915112345678"},"data":{"t":["ok","\udc00x"]}}""", "/data/t/1"),
        ("""{"type":"card.transaction","externalId":"\ud83d","customer":{"phone":"+4915112345678"}}""", "/externalId"),
    ];

    [Fact]
    public async Task UnstorableText_FromOneTenant_NeverFailsAnotherTenantsSends()
    {
        var (_, victim) = await Host.CreateTenantAsync("Victim Bank");
        var (_, attacker) = await Host.CreateTenantAsync("Attacker Bank");

        var attacks = Enumerable.Range(0, 6).SelectMany(_ => Unstorable).Select(async a =>
        {
            var (status, body) = await PostRawAsync(attacker, Encoding.UTF8.GetBytes(a.Body));
            Assert.True(status == HttpStatusCode.BadRequest, $"Expected 400 for {a.Body}, got {(int)status}: {body}");
            var problem = JsonNode.Parse(body)!;
            Assert.Contains(problem["errors"]!.AsArray(), e => e!["pointer"]!.GetValue<string>().StartsWith(a.Pointer, StringComparison.Ordinal));
        });

        await RunWithVictimAsync(victim, attacks);

        // Nothing of the attacker's was stored, on either backend.
        var stored = JsonNode.Parse(await attacker.GetStringAsync("/v1/notifications"))!["items"]!.AsArray();
        Assert.Empty(stored);
    }

    [Fact]
    public async Task UnstorableText_InABatch_RejectsOnlyThatItem()
    {
        var (_, client) = await Host.CreateTenantAsync();
        var phone = TestData.Phone();
        var items = string.Join(',', Unstorable.Select(u => u.Body).Prepend(
            $$$"""{"type":"card.transaction","customer":{"phone":"{{{phone}}}"},"data":{"text":"fine"}}"""));

        var (status, body) = await PostRawAsync(client, Encoding.UTF8.GetBytes($$"""{"items":[{{items}}]}"""), "/v1/notifications/batch");

        Assert.True(status == HttpStatusCode.Accepted, $"Expected 202, got {(int)status}: {body}");
        var result = JsonNode.Parse(body)!;
        Assert.Equal(1, result["accepted"]!.GetValue<int>());
        Assert.Equal(Unstorable.Length, result["rejected"]!.GetValue<int>());
        var results = result["items"]!.AsArray();
        for (var i = 0; i < Unstorable.Length; i++)
        {
            var item = results[i + 1]!;
            Assert.Equal("rejected", item["outcome"]!.GetValue<string>());
            var expected = $"/items/{i + 1}{Unstorable[i].Pointer}";
            Assert.Contains(item["errors"]!.AsArray(), e => e!["pointer"]!.GetValue<string>().StartsWith(expected, StringComparison.Ordinal));
        }
    }

    [Fact]
    public async Task UnstorableText_OnOtherApis_IsALocated400()
    {
        var (_, client) = await Host.CreateTenantAsync();

        (string Path, string Method, string Body, string Pointer)[] cases =
        [
            ("/v1/customers/c-1", "PUT", """{"phone":"+4915112345678","attributes":{"tier":"g\u0000ld"}}""", "/attributes/tier"),
            ("/v1/templates", "POST", """{"name":"card.transaction","channel":"sms","language":"en","body":"Paid \u0000{{ amount }}"}""", "/body"),
            ("/v1/sources", "POST", """{"name":"src\ud800","adapter":"native"}""", "/name"),
        ];
        foreach (var c in cases)
        {
            using var request = new HttpRequestMessage(new HttpMethod(c.Method), c.Path)
            {
                Content = new ByteArrayContent(Encoding.UTF8.GetBytes(c.Body)) { Headers = { ContentType = new MediaTypeHeaderValue("application/json") } },
            };
            using var response = await client.SendAsync(request);
            var body = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{c.Method} {c.Path}: expected 400, got {(int)response.StatusCode}: {body}");
            Assert.Contains(JsonNode.Parse(body)!["errors"]!.AsArray(), e => e!["pointer"]!.GetValue<string>() == c.Pointer);
        }

        // Query values and path segments reach SQL as parameters: a 400, not a database error answered as an outage.
        // (Kestrel itself refuses a NUL in the path, with a bare 400; the guard covers the decoded path as well.)
        foreach (var (path, pointer) in new[] { ("/v1/notifications?externalId=a%00b", "query/externalId"), ("/v1/customers/c%00d", "") })
        {
            using var response = await client.GetAsync(path);
            var body = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"GET {path}: expected 400, got {(int)response.StatusCode}: {body}");
            Assert.Contains(pointer, body, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task HostileBodies_FromOneTenant_GetOnly4xx_WhileTheOtherIsServed()
    {
        var (_, victim) = await Host.CreateTenantAsync("Victim Bank");
        var (_, attacker) = await Host.CreateTenantAsync("Attacker Bank");
        var hostile = HostileBodies().ToList();

        var attacks = Enumerable.Range(0, 3).SelectMany(_ => hostile).Select(async h =>
        {
            var (status, body) = await PostRawAsync(attacker, h.Body);
            Assert.True((int)status is >= 400 and < 500, $"{h.What}: expected a 4xx problem, got {(int)status}: {body}");
            Assert.StartsWith("{", body, StringComparison.Ordinal);
            Assert.NotNull(JsonNode.Parse(body)!["type"]);
        });

        await RunWithVictimAsync(victim, attacks);
    }

    /// <summary>
    /// Everything at once from one tenant: hostile bodies, template bombs through the dry run (a read key is enough) and
    /// through real sends that the shared worker renders. The other tenant's sends are all accepted and delivered, the
    /// attacker gets only 4xx (and its bomb sends fail alone), and this process's resident memory, which holds the host,
    /// stays within budget (a bomb used to take it from about 150 MB to over 4 GB).
    /// </summary>
    [Fact]
    public async Task HostileBodiesAndTemplateBombs_FromOneTenant_VictimServed_MemoryWithinBudget()
    {
        const long RssBudget = 512L * 1024 * 1024;
        const string Bomb = "{% assign s = data.seed %}{% for i in (1..23) %}{% assign s = s | append: s %}{% endfor %}{{ s }}";
        var (_, victim) = await Host.CreateTenantAsync("Victim Bank");
        var (_, attacker) = await Host.CreateTenantAsync("Attacker Bank");
        using (var saved = await attacker.PostAsync("/v1/templates", Json($$"""{"name":"bomb","channel":"whatsapp","body":{{System.Text.Json.JsonSerializer.Serialize(Bomb)}}}""")))
        {
            Assert.True(saved.StatusCode == HttpStatusCode.Created, await saved.Content.ReadAsStringAsync());
        }

        using var process = System.Diagnostics.Process.GetCurrentProcess();
        process.Refresh();
        var rssBefore = process.WorkingSet64;
        var peak = rssBefore;
        using var sampling = new CancellationTokenSource();
        var sampler = Task.Run(async () =>
        {
            while (!sampling.IsCancellationRequested)
            {
                process.Refresh();
                peak = Math.Max(peak, process.WorkingSet64);
                await Task.Delay(20, CancellationToken.None);
            }
        });

        var bombBody = Encoding.UTF8.GetBytes($$$"""{"type":"bomb","channels":["whatsapp"],"customer":{"phone":"{{{TestData.Phone()}}}"},"data":{"seed":"xxxxxxxxxx"}}""");
        var bombSends = new List<Guid>();
        var attacks = Enumerable.Range(0, 3).SelectMany(_ => HostileBodies()).Select(async h =>
        {
            var (status, body) = await PostRawAsync(attacker, h.Body);
            Assert.True((int)status is >= 400 and < 500, $"{h.What}: expected a 4xx problem, got {(int)status}: {body}");
        }).Concat(Enumerable.Range(0, 6).Select(async _ =>
        {
            var (status, body) = await PostRawAsync(attacker, Encoding.UTF8.GetBytes("{\"notification\":" + Encoding.UTF8.GetString(bombBody) + "}"), "/v1/rules/test");
            Assert.True(status == HttpStatusCode.UnprocessableEntity, $"Dry run of the bomb: expected 422, got {(int)status}: {body[..Math.Min(300, body.Length)]}");
        })).Concat(Enumerable.Range(0, 6).Select(async _ =>
        {
            var (status, body) = await PostRawAsync(attacker, bombBody);
            Assert.True(status == HttpStatusCode.Accepted, $"A bomb send is accepted and fails alone when rendered; got {(int)status}: {body}");
            lock (bombSends)
            {
                bombSends.Add(JsonNode.Parse(body)!["id"]!.GetValue<Guid>());
            }
        }));

        await RunWithVictimAsync(victim, attacks);
        foreach (var id in bombSends)
        {
            var failed = await attacker.WaitForStatusAsync(id, "failed", TimeSpan.FromSeconds(60));
            Assert.Contains("template_too_large", failed.ToJsonString(), StringComparison.Ordinal);
        }

        await sampling.CancelAsync();
        await sampler;
        TestContext.Current.SendDiagnosticMessage($"Hostile tenant: RSS {rssBefore / 1048576} MB before, peak {peak / 1048576} MB.");
        Assert.True(peak - rssBefore < RssBudget, $"RSS grew from {rssBefore / 1048576} MB to {peak / 1048576} MB under the hostile tenant.");
    }

    private static ByteArrayContent Json(string json)
    {
        var content = new ByteArrayContent(Encoding.UTF8.GetBytes(json));
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        return content;
    }

    /// <summary>Hostile bodies an attacker might send: every one must be refused, none may disturb a neighbour.</summary>
    public static IEnumerable<(string What, byte[] Body)> HostileBodies()
    {
        const string head = """{"type":"card.transaction","customer":{"phone":"+4915112345678"},"data":""";
        foreach (var (body, pointer) in Unstorable)
        {
            yield return ("unstorable at " + pointer, Encoding.UTF8.GetBytes(body));
        }

        yield return ("raw control characters in a string", Encoding.UTF8.GetBytes(head + "{\"t\":\"a\u0001\u0000\u001fb\"}}"));
        yield return ("invalid UTF-8 in a string", [.. Encoding.UTF8.GetBytes(head + "{\"t\":\""), 0xC3, 0x28, 0xFF, 0xFE, .. "\"}}"u8]);
        yield return ("an encoded surrogate (CESU-8)", [.. Encoding.UTF8.GetBytes(head + "{\"t\":\""), 0xED, 0xA0, 0x80, .. "\"}}"u8]);
        yield return ("oversized", Encoding.UTF8.GetBytes(head + "{\"t\":\"" + new string('x', 70 * 1024) + "\"}}"));
        yield return ("deeply nested", Encoding.UTF8.GetBytes(head + new string('[', 5000) + new string(']', 5000) + "}"));
        yield return ("deeply nested data object", Encoding.UTF8.GetBytes(head + string.Concat(Enumerable.Repeat("{\"a\":", 200)) + "1" + new string('}', 200) + "}"));
        yield return ("a huge number", Encoding.UTF8.GetBytes(head + "{\"n\":1e999999}}"));
        yield return ("truncated", Encoding.UTF8.GetBytes(head + "{\"t\":\"x"));
        yield return ("not an object", "[1,2,3]"u8.ToArray());
    }

    // The victim's valid sends race the attacker's; each must be 202 and end delivered.
    protected static async Task RunWithVictimAsync(HttpClient victim, IEnumerable<Task> attacks)
    {
        var phone = TestData.Phone();
        var sends = Enumerable.Range(0, VictimSends).Select(async i =>
        {
            var body = $$$"""{"type":"card.transaction","externalId":"v-{{{i}}}","customer":{"id":"cust-{{{i}}}","phone":"{{{phone}}}"},"data":{"text":"valid {{{i}}}"}}""";
            var (status, answer) = await PostRawAsync(victim, Encoding.UTF8.GetBytes(body));
            Assert.True(status == HttpStatusCode.Accepted, $"Victim send {i}: expected 202, got {(int)status}: {answer}");
            return JsonNode.Parse(answer)!["id"]!.GetValue<Guid>();
        }).ToList();

        await Task.WhenAll(attacks.Concat(sends));
        foreach (var send in sends)
        {
            await victim.WaitForStatusAsync(await send, "delivered", TimeSpan.FromSeconds(60));
        }
    }

    protected static async Task<(HttpStatusCode Status, string Body)> PostRawAsync(HttpClient client, byte[] body, string path = "/v1/notifications")
    {
        using var content = new ByteArrayContent(body);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        using var response = await client.PostAsync(path, content);
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }
}
