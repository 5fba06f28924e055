using System.Text;
using Herald.Ingest.Files;
using Herald.Ingest.Iso20022;
using Herald.Ingest.Mapped;
using Herald.Ingest.Native;
using Herald.Ingest.Sources;

namespace Herald.Ingest.Tests;

/// <summary>
/// Property tests on hostile input for every parser: seeded mutations of the fixtures (byte flips, insertions,
/// truncations, splices) and random bytes. Each input must end in a result (items or located errors), never an
/// exception, within a deadline, and without unbounded allocation.
/// </summary>
[Collection(MemoryCollection.Name)]
public sealed class ParserFuzzTests
{
    private const int Iterations = 400;
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    private static readonly byte[] Tokens = Encoding.UTF8.GetBytes("<>&;\"'/=[]{}:,\n\r\t\\!?-#%~0123456789");

    private static byte[] Mutate(byte[] input, Random random)
    {
        var bytes = new List<byte>(input);
        var edits = random.Next(1, 8);
        for (var e = 0; e < edits && bytes.Count > 0; e++)
        {
            var at = random.Next(bytes.Count);
            switch (random.Next(6))
            {
                case 0:
                    bytes[at] = (byte)random.Next(256);
                    break;
                case 1:
                    bytes.Insert(at, Tokens[random.Next(Tokens.Length)]);
                    break;
                case 2:
                    bytes.RemoveRange(at, Math.Min(random.Next(1, 64), bytes.Count - at));
                    break;
                case 3:
                    bytes.RemoveRange(at, bytes.Count - at);
                    break;
                case 4:
                    var from = random.Next(bytes.Count);
                    var length = Math.Min(random.Next(1, 256), bytes.Count - from);
                    bytes.InsertRange(at, bytes.GetRange(from, length));
                    break;
                default:
                    bytes[at] = Tokens[random.Next(Tokens.Length)];
                    break;
            }
        }

        return [.. bytes];
    }

    private static IEnumerable<byte[]> Inputs(string fixture, int seed)
    {
        var random = new Random(seed);
        var original = Fixture.Bytes(fixture);
        for (var i = 0; i < Iterations; i++)
        {
            yield return i % 10 == 9 ? RandomBytes(random) : Mutate(original, random);
        }
    }

    private static byte[] RandomBytes(Random random)
    {
        var bytes = new byte[random.Next(0, 4096)];
        random.NextBytes(bytes);
        return bytes;
    }

    private static async Task RunAsync(IEnumerable<byte[]> inputs, Func<byte[], Task> parse)
    {
        var work = Task.Run(async () =>
        {
            foreach (var input in inputs)
            {
                try
                {
                    await parse(input);
                }
                catch (Exception e)
                {
                    throw new InvalidOperationException("Parser threw on input (base64): " + Convert.ToBase64String(input), e);
                }
            }
        }, TestContext.Current.CancellationToken);

        await work.WaitAsync(Deadline, TestContext.Current.CancellationToken);
    }

    [Theory]
    [InlineData(11)]
    [InlineData(12)]
    public async Task Native_MutatedNotifications_AlwaysEndInANotificationOrLocatedErrors(int seed)
    {
        await RunAsync(Inputs("native/notification.json", seed), input =>
        {
            var (notification, errors) = NotificationParser.Parse(input, Fixture.Tenant, Fixture.Source, null);
            Assert.True(notification is not null ^ errors.Count > 0);
            Assert.All(errors, e => Assert.False(string.IsNullOrEmpty(e.Pointer)));
            return Task.CompletedTask;
        });
    }

    [Theory]
    [InlineData("camt054/camt.054.001.02.xml", 1)]
    [InlineData("camt054/camt.054.001.04.xml", 2)]
    [InlineData("camt054/camt.054.001.06.xml", 3)]
    [InlineData("camt054/camt.054.001.08.xml", 4)]
    [InlineData("camt054/billion-laughs.xml", 5)]
    public async Task Camt054_MutatedDocuments_AlwaysEndInItemsOrLocatedErrors(string fixture, int seed)
    {
        var settings = Fixture.Config(SourceAdapter.Iso20022, "camt054/source-settings.json").Camt!;

        await RunAsync(Inputs(fixture, seed), input =>
        {
            var document = Camt054Adapter.Adapt(input, settings, Fixture.Tenant, Fixture.Source, 1024 * 1024);
            Assert.True(document.Items.Count > 0 ^ document.DocumentErrors.Count > 0);
            Assert.All(document.DocumentErrors, e => Assert.False(string.IsNullOrEmpty(e.Pointer)));
            return Task.CompletedTask;
        });
    }

    [Theory]
    [InlineData("mapped/card-processor.json", "mapped/card-processor.settings.json", 6)]
    [InlineData("mapped/fraud-engine.json", "mapped/fraud-engine.settings.json", 7)]
    public async Task MappedJson_MutatedDocuments_AlwaysEndInItemsOrLocatedErrors(string fixture, string settings, int seed)
    {
        var mapping = Fixture.Config(SourceAdapter.Mapped, settings).Mapping!;

        await RunAsync(Inputs(fixture, seed), input =>
        {
            var document = MappedJsonAdapter.Adapt(input, mapping, Fixture.Tenant, Fixture.Source);
            Assert.True(document.Items.Count > 0 ^ document.DocumentErrors.Count > 0);
            Assert.All(document.Items, i => Assert.True(i.Notification is not null ^ i.Errors.Count > 0));
            return Task.CompletedTask;
        });
    }

    [Theory]
    [InlineData("files/transactions.csv", "files/transactions.settings.json", 8)]
    [InlineData("files/statement.txt", "files/statement.settings.json", 9)]
    public async Task Files_MutatedFiles_AlwaysEndInItemsOrARefusal(string fixture, string settings, int seed)
    {
        var config = Fixture.Config(SourceAdapter.File, settings);

        await RunAsync(Inputs(fixture, seed), async input =>
        {
            try
            {
                await foreach (var item in FileAdapter.ReadAsync(new MemoryStream(input), config.Layout!, config.Mapping!, Fixture.Tenant, Fixture.Source, 256, TestContext.Current.CancellationToken))
                {
                    Assert.True(item.Notification is not null ^ item.Errors.Count > 0);
                }
            }
            catch (FileRefusedException e)
            {
                Assert.False(string.IsNullOrEmpty(e.Error.Pointer));
            }
        });
    }

    [Theory]
    [InlineData("mapped/card-processor.settings.json", SourceAdapter.Mapped, 10)]
    [InlineData("mapped/fraud-engine.settings.json", SourceAdapter.Mapped, 11)]
    [InlineData("files/transactions.settings.json", SourceAdapter.File, 12)]
    [InlineData("files/statement.settings.json", SourceAdapter.File, 13)]
    [InlineData("camt054/source-settings.json", SourceAdapter.Iso20022, 14)]
    public async Task Settings_MutatedDefinitions_AreValidOrLocatedErrors(string fixture, SourceAdapter adapter, int seed)
    {
        await RunAsync(Inputs(fixture, seed), input =>
        {
            if (!System.Text.Unicode.Utf8.IsValid(input))
            {
                return Task.CompletedTask; // the API refuses a body that is not UTF-8 before validation
            }

            System.Text.Json.JsonDocument document;
            try
            {
                document = System.Text.Json.JsonDocument.Parse(input);
            }
            catch (System.Text.Json.JsonException)
            {
                return Task.CompletedTask; // the API refuses malformed JSON before validation
            }

            using (document)
            {
                var (config, errors) = SourceConfig.Parse(adapter, document.RootElement);
                Assert.True(config is not null ^ errors.Count > 0);
                Assert.All(errors, e => Assert.StartsWith("/settings", e.Pointer, StringComparison.Ordinal));
            }

            return Task.CompletedTask;
        });
    }

    [Fact]
    public async Task Files_EndlessLineWithoutNewline_IsRejectedInBoundedMemory()
    {
        var config = Fixture.Config(SourceAdapter.File, "files/statement.settings.json");
        // 200 MB of one line: read through, never held.
        var chunk = new string('9', 64 * 1024);
        var stream = new GeneratedStream(3201, i => i == 0 ? "HDR\n" : chunk, newline: false);
        GC.Collect();
        var baseline = GC.GetTotalMemory(true);

        var items = new List<AdaptedItem>();
        await foreach (var item in FileAdapter.ReadAsync(stream, config.Layout!, config.Mapping!, Fixture.Tenant, Fixture.Source, 4096, TestContext.Current.CancellationToken))
        {
            items.Add(item);
        }

        Assert.Contains("Longer than 4096", Assert.Single(items).Errors[0].Detail, StringComparison.Ordinal);
        var retained = GC.GetTotalMemory(true) - baseline;
        Assert.True(retained < 16 * 1024 * 1024, $"retained {retained} bytes after a 200 MB line");
    }
}

/// <summary>Tests that measure the process's heap run alone: parallel tests' allocations would blur the figure.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class MemoryCollection
{
    public const string Name = "memory";
}
