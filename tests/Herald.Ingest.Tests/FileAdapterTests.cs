using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Herald.Ingest.Files;
using Herald.Ingest.Mapped;
using Herald.Ingest.Sources;

namespace Herald.Ingest.Tests;

[Collection(MemoryCollection.Name)]
public sealed class FileAdapterTests(ITestOutputHelper output)
{
    private static async Task<List<AdaptedItem>> ReadAsync(SourceConfig config, Stream stream, int maxLine = 4096)
    {
        var items = new List<AdaptedItem>();
        await foreach (var item in FileAdapter.ReadAsync(stream, config.Layout!, config.Mapping!, Fixture.Tenant, Fixture.Source, maxLine, TestContext.Current.CancellationToken))
        {
            items.Add(item);
        }

        return items;
    }

    [Fact]
    public async Task ReadAsync_CsvFixture_AcceptsGoodLinesAndLocatesBadOnes()
    {
        var config = Fixture.Config(SourceAdapter.File, "files/transactions.settings.json");

        var items = await ReadAsync(config, File.OpenRead(Fixture.PathOf("files/transactions.csv")));

        Assert.Equal([2, 3, 4, 5, 7], items.Select(i => i.Index));
        var salary = items[0].Notification!;
        Assert.Equal("account.credit", salary.Type);
        Assert.Equal("C-1001", salary.CustomerId);
        Assert.Equal("Salary November; ACME GmbH", JsonDocument.Parse(salary.DataJson).RootElement.GetProperty("text").GetString());
        Assert.Equal("src:" + Fixture.Source.ToString("N") + ":id:B-1", salary.DedupeKey);
        Assert.Equal("account.debit", items[1].Notification!.Type);
        Assert.Equal("bob@example.com", items[1].Notification!.Contacts.Email);
        Assert.Equal("line 4, field 'kind'", Assert.Single(items[2].Errors).Pointer);
        Assert.Equal("line 5, field 'mobile'", Assert.Single(items[3].Errors).Pointer);
        Assert.Equal("line 7, column 6", Assert.Single(items[4].Errors).Pointer);
    }

    [Fact]
    public async Task ReadAsync_FixedWidthFixture_SlicesFieldsAndSkipsTheHeaderRecord()
    {
        var config = Fixture.Config(SourceAdapter.File, "files/statement.settings.json");

        var items = await ReadAsync(config, File.OpenRead(Fixture.PathOf("files/statement.txt")));

        Assert.Equal(3, items.Count);
        var credit = items[0].Notification!;
        Assert.Equal(("account.credit", "DE89370400440532013000", "+4915112345678"), (credit.Type, credit.CustomerId, credit.Contacts.Phone));
        var data = JsonDocument.Parse(credit.DataJson).RootElement;
        Assert.Equal("1250.00", data.GetProperty("amount").GetString());
        Assert.Equal("Salary November", data.GetProperty("text").GetString());
        Assert.Equal("account.debit", items[1].Notification!.Type);
        Assert.Equal("line 4, field 'type'", Assert.Single(items[2].Errors).Pointer);
        // Without an id column a line is known by its content: same line, same key.
        Assert.StartsWith("src:" + Fixture.Source.ToString("N") + ":h:", credit.DedupeKey, StringComparison.Ordinal);
        var again = await ReadAsync(config, File.OpenRead(Fixture.PathOf("files/statement.txt")));
        Assert.Equal(items.Select(i => i.Notification?.DedupeKey), again.Select(i => i.Notification?.DedupeKey));
    }

    [Fact]
    public async Task ReadAsync_HeaderWithoutAMappedColumn_RefusesTheFile()
    {
        var config = Fixture.Config(SourceAdapter.File, "files/transactions.settings.json");

        var e = await Assert.ThrowsAsync<FileRefusedException>(() => ReadAsync(config, Fixture.Stream("booking_id;kind;customer_no\nB-1;C;C-1\n")));

        Assert.Equal("line 1", e.Error.Pointer);
        Assert.Contains("'mobile'", e.Error.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ReadAsync_OverlongLine_IsRejectedWithoutBufferingAndTheNextLineIsRead()
    {
        var config = Fixture.Config(SourceAdapter.File, "files/transactions.settings.json");
        var header = "booking_id;kind;customer_no;mobile;email;amount;currency;booking_date;text";
        var huge = new string('x', 5_000_000);
        var good = "B-9;C;C-9;+4915112345678;;1.00;EUR;2026-11-24;ok";

        var items = await ReadAsync(config, Fixture.Stream(header + "\n" + huge + "\r\n" + good + "\n"), maxLine: 1000);

        Assert.Equal(2, items.Count);
        Assert.Contains("Longer than 1000 characters", items[0].Errors[0].Detail, StringComparison.Ordinal);
        Assert.NotNull(items[1].Notification);
    }

    [Fact]
    public void Parse_LayoutErrors_AreLocated()
    {
        Fixture.Config(SourceAdapter.File, """
            {"layout":{"format":"fixed","fields":[{"name":"a","start":0,"length":2}]},
             "mapping":{"type":{"const":"otp"},"customer":{"phone":"/a"}}}
            """, out var errors);
        Assert.Contains("/settings/layout/fields/0/start", errors.Select(e => e.Pointer));

        Fixture.Config(SourceAdapter.File, """
            {"layout":{"format":"fixed","fields":[{"name":"a","start":1,"length":2}]},
             "mapping":{"type":{"const":"otp"},"customer":{"phone":"/b"}}}
            """, out errors);
        Assert.Equal("/settings/mapping/customer/phone", Assert.Single(errors).Pointer);

        Fixture.Config(SourceAdapter.File, """{"layout":{"format":"csv","header":false},"mapping":{"type":{"const":"otp"},"customer":{"phone":"/a"}}}""", out errors);
        Assert.Equal("/settings/layout/columns", Assert.Single(errors).Pointer);

        Fixture.Config(SourceAdapter.File, """{"mapping":{"type":{"const":"otp"},"customer":{"phone":"/a"}}}""", out errors);
        Assert.Equal("/settings/layout", Assert.Single(errors).Pointer);
    }

    [Theory]
    [InlineData("a,b,c", new[] { "a", "b", "c" })]
    [InlineData("\"a,1\",\"b\"\"q\"\"\",", new[] { "a,1", "b\"q\"", "" })]
    [InlineData("", new[] { "" })]
    [InlineData(",", new[] { "", "" })]
    public void Csv_Split_FollowsRfc4180WithinALine(string line, string[] expected)
    {
        var fields = new List<string>();

        Assert.Null(Csv.Split(line, ',', fields, 10, "line 1"));
        Assert.Equal(expected, fields);
    }

    [Fact]
    public async Task ReadAsync_MillionLines_StreamsInBoundedMemory()
    {
        var config = Fixture.Config(SourceAdapter.File, "files/transactions.settings.json");
        const int lines = 1_000_000;
        var stream = new GeneratedStream(lines + 1, i => i == 0
            ? "booking_id;kind;customer_no;mobile;email;amount;currency;booking_date;text"
            : string.Create(CultureInfo.InvariantCulture, $"B-{i};C;C-{i % 5000};+49151{10000000 + (i % 9000000)};;{i % 1000}.50;EUR;2026-11-24;Salary {i}"));
        GC.Collect();
        var baseline = GC.GetTotalMemory(forceFullCollection: true);
        long peakHeap = 0, accepted = 0, rejected = 0;
        var clock = Stopwatch.StartNew();

        await foreach (var item in FileAdapter.ReadAsync(stream, config.Layout!, config.Mapping!, Fixture.Tenant, Fixture.Source, 4096, TestContext.Current.CancellationToken))
        {
            _ = item.Notification is null ? rejected++ : accepted++;
            if ((accepted + rejected) % 50_000 == 0)
            {
                peakHeap = Math.Max(peakHeap, GC.GetTotalMemory(forceFullCollection: false) - baseline);
            }
        }

        clock.Stop();
        Assert.Equal(lines, accepted);
        Assert.Equal(0, rejected);
        // A file held in memory would be ~90 MB of text plus its notifications; streaming keeps the live heap small.
        GC.Collect();
        var retained = GC.GetTotalMemory(forceFullCollection: true) - baseline;
        Assert.True(retained < 8 * 1024 * 1024, $"retained {retained} bytes after the file");
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"1,000,000 lines parsed and mapped: {lines / clock.Elapsed.TotalSeconds:0} lines/s, peak heap growth {peakHeap / 1024 / 1024} MB (sampled, includes garbage), retained {retained / 1024} KB"));
    }
}
