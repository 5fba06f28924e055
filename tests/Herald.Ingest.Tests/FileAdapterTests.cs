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
    public async Task ReadAsync_InvalidUtf8OrNul_RejectsOnlyThatLine_Located()
    {
        var config = Fixture.Config(SourceAdapter.File, "files/transactions.settings.json");
        byte[] file =
        [
            0xEF, 0xBB, 0xBF, // a UTF-8 byte order mark: skipped, not a character of the header
            .. "booking_id;kind;customer_no;mobile;email;amount;currency;booking_date;text\n"u8,
            .. "B-1;C;C-1001;+4915112345678;;1.00;EUR;2026-11-24;Gr\u00fc\u00dfe \ud83d\ude00\n"u8,
            .. "B-2;C;C-1002;+4915112345678;;2.00;EUR;2026-11-24;Gr"u8, 0xFC, .. "\u00dfe latin1 byte\n"u8,
            .. "B-3;C;C-1003;+4915112345678;;3.00;EUR;2026-11-24;nul "u8, 0x00, .. " byte\n"u8,
            .. "B-4;C;C-1004;+4915112345678;;4.00;EUR;2026-11-24;cut "u8, 0xE2, 0x82, .. "\n"u8,
            .. "B-5;C;C-1005;+4915112345678;;5.00;EUR;2026-11-24;fine\n"u8,
        ];

        var items = await ReadAsync(config, new MemoryStream(file));

        Assert.Equal([2, 3, 4, 5, 6], items.Select(i => i.Index));
        Assert.Equal("Grüße 😀", JsonDocument.Parse(items[0].Notification!.DataJson).RootElement.GetProperty("text").GetString());
        Assert.Equal("line 3, character 52", Assert.Single(items[1].Errors).Pointer);
        Assert.Contains("not valid UTF-8", items[1].Errors[0].Detail, StringComparison.Ordinal);
        Assert.Equal("line 4, character 54", Assert.Single(items[2].Errors).Pointer);
        Assert.Contains("NUL", items[2].Errors[0].Detail, StringComparison.Ordinal);
        Assert.Equal("line 5, character 54", Assert.Single(items[3].Errors).Pointer);
        Assert.NotNull(items[4].Notification);
        Assert.All(items.Where(i => i.Notification is { } n), i => Assert.DoesNotContain('\uFFFD', i.Notification!.DataJson));
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

    private const string Header = "booking_id;kind;customer_no;mobile;email;amount;currency;booking_date;text";

    private static string Good(int i, string text = "ok") =>
        string.Create(CultureInfo.InvariantCulture, $"B-{i};C;C-{i};+4915112345678;;1.00;EUR;2026-11-24;{text}");

    [Fact]
    public async Task ReadAsync_QuotedFieldsWithLineBreaks_AreOneRecord_LocatedWhereTheyStart()
    {
        var config = Fixture.Config(SourceAdapter.File, "files/transactions.settings.json");
        var file = Header + "\r\n"
            + Good(1, "\"Salary\r\nNovember; \"\"ACME\"\"\"") + "\r\n"        // lines 2-3
            + Good(2, "\"a\n\nb\"") + "\n"                                     // lines 4-6
            + "B-3;X;C-3;+4915112345678;;1.00;EUR;2026-11-24;\"bad\nkind\"\n"   // lines 7-8: rejected, named by line 7
            + Good(4, "x\"y") + "\n"                                            // line 9: a quote inside an unquoted field is text
            + Good(5) + "\n";                                                   // line 10

        var items = await ReadAsync(config, Fixture.Stream(file));

        Assert.Equal([2, 4, 7, 9, 10], items.Select(i => i.Index));
        Assert.Equal("Salary\r\nNovember; \"ACME\"", JsonDocument.Parse(items[0].Notification!.DataJson).RootElement.GetProperty("text").GetString());
        Assert.Equal("a\n\nb", JsonDocument.Parse(items[1].Notification!.DataJson).RootElement.GetProperty("text").GetString());
        Assert.Equal("line 7, field 'kind'", Assert.Single(items[2].Errors).Pointer);
        Assert.Equal("x\"y", JsonDocument.Parse(items[3].Notification!.DataJson).RootElement.GetProperty("text").GetString());
        Assert.NotNull(items[4].Notification);
    }

    [Fact]
    public async Task ReadAsync_QuotedRecordOverTheCap_IsRejectedAsOne_AndTheNextRecordIsRead()
    {
        var config = Fixture.Config(SourceAdapter.File, "files/transactions.settings.json");
        // Lines 2 to 2001 are one record (a quoted field holding 1,999 line breaks), far over the 1,000-character cap.
        var huge = Good(1, "\"" + string.Join("\n", Enumerable.Repeat("filler text", 2000)) + "\"");

        var items = await ReadAsync(config, Fixture.Stream(Header + "\n" + huge + "\n" + Good(2) + "\n"), maxLine: 1000);

        Assert.Equal([2, 2002], items.Select(i => i.Index));
        var error = Assert.Single(items[0].Errors);
        Assert.Equal("line 2", error.Pointer);
        Assert.Contains("lines 2 to 2001", error.Detail, StringComparison.Ordinal);
        Assert.NotNull(items[1].Notification);
    }

    [Fact]
    public async Task ReadAsync_QuoteNeverClosed_IsOneRejectedRecordNamingItsFirstLine()
    {
        var config = Fixture.Config(SourceAdapter.File, "files/transactions.settings.json");

        var items = await ReadAsync(config, Fixture.Stream(Header + "\n" + Good(1) + "\n" + Good(2, "\"open") + "\n" + Good(3) + "\n" + Good(4) + "\n"));

        Assert.Equal([2, 3], items.Select(i => i.Index));
        Assert.Equal("line 3, column 9", Assert.Single(items[1].Errors).Pointer);
        Assert.Contains("not closed before the end of the file", items[1].Errors[0].Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ReadAsync_SkippedPreambleLines_AreNotQuoteAware()
    {
        var config = Fixture.Config(SourceAdapter.File, """
            {"layout":{"format":"csv","delimiter":";","header":true,"skipLines":2,"idColumn":"booking_id"},
             "mapping":{"type":{"const":"account.credit"},"customer":{"id":"/customer_no","phone":"/mobile"},"data":{"text":"/text"}}}
            """, out _);

        var items = await ReadAsync(config, Fixture.Stream("\"Nightly export\n;\"stray\n" + Header + "\n" + Good(1) + "\n"));

        Assert.Equal(4, Assert.Single(items).Index);
        Assert.NotNull(items[0].Notification);
    }

    [Fact]
    public async Task ReadAsync_EndlessQuotedField_IsRejectedInBoundedMemory()
    {
        var config = Fixture.Config(SourceAdapter.File, "files/transactions.settings.json");
        // A quote opened on line 2 and never closed: 1,000,000 more lines, read through as one record, never held.
        var stream = new GeneratedStream(1_000_002, i => i switch
        {
            0 => Header,
            1 => Good(1, "\"opened"),
            _ => Good((int)i),
        });
        GC.Collect();
        var baseline = GC.GetTotalMemory(forceFullCollection: true);

        var items = await ReadAsync(config, stream, maxLine: 4096);

        var item = Assert.Single(items);
        Assert.Equal(2, item.Index);
        Assert.Contains("lines 2 to 1000002", item.Errors[0].Detail, StringComparison.Ordinal);
        Assert.True(GC.GetTotalMemory(forceFullCollection: true) - baseline < 8 * 1024 * 1024, "a never-closed quote is not buffered");
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
            if ((accepted + rejected) % 100_000 == 0)
            {
                // The live heap mid-file (after a full collection, so garbage does not count): what the adapter holds.
                peakHeap = Math.Max(peakHeap, GC.GetTotalMemory(forceFullCollection: true) - baseline);
            }
        }

        clock.Stop();
        Assert.Equal(lines, accepted);
        Assert.Equal(0, rejected);
        // A file held in memory would be ~90 MB of text plus its notifications by the middle of the file; streaming
        // keeps the live heap small all the way through, not only after the end.
        GC.Collect();
        var retained = GC.GetTotalMemory(forceFullCollection: true) - baseline;
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"1,000,000 lines parsed and mapped: {lines / clock.Elapsed.TotalSeconds:0} lines/s (10 full collections included), peak live heap growth {peakHeap / 1024} KB (sampled every 100,000 lines), retained {retained / 1024} KB"));
        Assert.True(peakHeap < 16 * 1024 * 1024, $"peak live heap growth {peakHeap} bytes while reading");
        Assert.True(retained < 8 * 1024 * 1024, $"retained {retained} bytes after the file");
    }
}
