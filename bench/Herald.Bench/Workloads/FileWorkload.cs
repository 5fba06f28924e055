using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;

namespace Herald.Bench.Workloads;

/// <summary>
/// (opt-in, <c>--only file</c>) One 1,000,000-line CSV file streamed to a <c>file</c> source
/// (<c>POST /v1/sources/{id}/messages</c>), generated on the fly so neither side holds it: lines per second and peak
/// memory while it ingests; then the same file again, which must come back as 1,000,000 duplicates and 0 accepted.
/// On PostgreSQL the file goes to a separate Herald process in the <c>api</c> role (a production api replica), so its
/// peak RSS is Herald's alone; the bench process's worker delivers the lines meanwhile. On SQLite it goes to the
/// in-process host (one writer per file), whose RSS includes the load generator, the worker and the sandbox.
/// </summary>
public static class FileWorkload
{
    public const int Lines = 1_000_000;

    public static async Task RunAsync(BenchHost host, Report report, CancellationToken ct)
    {
        Report.Line("");
        Report.Line("== file: 1,000,000-line CSV to POST /v1/sources/{id}/messages ==");
        var (_, admin) = await host.CreateTenantAsync("Bench files", ct);
        using var _ = admin;
        using var create = await admin.PostAsJsonAsync("/v1/sources", JsonNode.Parse("""
            {"name":"Nightly bookings","adapter":"file","settings":{
              "layout":{"format":"csv","delimiter":";","header":true,"idColumn":"id"},
              "mapping":{"type":{"from":"/kind","map":{"C":"account.credit","D":"account.debit"}},
                         "priority":{"const":"low"},
                         "customer":{"id":"/customer","telegramChatId":"/chat"},
                         "data":{"amount":"/amount","currency":"/currency","text":"/text"}}}}
            """), ct);
        create.EnsureSuccessStatusCode();
        var sourceId = (await create.Content.ReadFromJsonAsync<JsonObject>(ct))!["id"]!.GetValue<Guid>();

        await using var api = await host.StartApiProcessAsync(ct);
        using var http = api is null ? null : host.Client(admin.DefaultRequestHeaders.Authorization!.Parameter!, api.BaseUrl);
        var client = http ?? admin;
        Func<(double Rss, double Peak)> memory = api is null ? () => (Report.RssMb(), 0) : api.Memory;
        var who = api is null
            ? "the bench process (in-process host: Herald, load generator, worker and sandbox together)"
            : $"Herald api process (pid {api.Pid}, server GC as shipped; the bench process's worker delivers meanwhile)";

        var (baselineRss, _) = memory();
        var peakRss = baselineRss;
        long peakHeap = 0;
        using var sampling = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var sampler = Task.Run(async () =>
        {
            while (!sampling.IsCancellationRequested)
            {
                var (rss, peak) = memory();
                peakRss = Math.Max(peakRss, Math.Max(rss, peak));
                peakHeap = Math.Max(peakHeap, GC.GetGCMemoryInfo().HeapSizeBytes);
                try
                {
                    await Task.Delay(100, sampling.Token);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }
        }, CancellationToken.None);

        Report.Info($"file goes to {who}");
        Report.Info($"load average before the upload: {Report.LoadAverage()}");
        var (status, body, elapsed) = await UploadAsync(client, sourceId, ct);
        var (afterRss, _) = memory();
        await sampling.CancelAsync();
        await sampler;

        if (status != HttpStatusCode.Accepted)
        {
            Report.Info($"upload failed: {(int)status} {body[..Math.Min(300, body.Length)]}");
            return;
        }

        var result = JsonNode.Parse(body)!;
        var accepted = result["accepted"]!.GetValue<long>();
        var rate = accepted / elapsed.TotalSeconds;
        Report.Line(string.Create(CultureInfo.InvariantCulture,
            $"file.ingest: {rate:F0} lines/s  ({accepted:N0} accepted, {result["rejected"]!.GetValue<long>()} rejected in {elapsed.TotalSeconds:F1} s, response {body.Length:N0} bytes)"));
        Report.Line(api is null
            ? string.Create(CultureInfo.InvariantCulture,
                $"file.memory: peak RSS {peakRss:F0} MB (before {baselineRss:F0} MB, after {afterRss:F0} MB), peak managed heap {peakHeap / 1024.0 / 1024.0:F0} MB (bench process)")
            : string.Create(CultureInfo.InvariantCulture,
                $"file.memory: Herald api process peak RSS {peakRss:F0} MB (before the upload {baselineRss:F0} MB, after {afterRss:F0} MB); bench process now {Report.RssMb():F0} MB"));
        Report.Info($"load average after the upload: {Report.LoadAverage()}");
        report.Add(new Figure("file.ingest lines/s", rate, "lines/s", null, HigherIsBetter: true));
        report.Add(new Figure(api is null ? "file.ingest peak RSS (bench process)" : "file.ingest peak RSS (api process)", peakRss, "MB", 300, HigherIsBetter: false));

        // The same file again: every line is a duplicate, nothing is delivered twice.
        var (againStatus, againBody, againElapsed) = await UploadAsync(client, sourceId, ct);
        if (againStatus != HttpStatusCode.Accepted)
        {
            Report.Info($"re-upload failed: {(int)againStatus} {againBody[..Math.Min(300, againBody.Length)]}");
            return;
        }

        var again = JsonNode.Parse(againBody)!;
        Report.Line(string.Create(CultureInfo.InvariantCulture,
            $"file.reupload: {again["accepted"]!.GetValue<long>():N0} accepted, {again["duplicate"]!.GetValue<long>():N0} duplicate in {againElapsed.TotalSeconds:F1} s ({Lines / againElapsed.TotalSeconds:F0} lines/s); api peak RSS now {memory().Peak:F0} MB"));
        report.Add(new Figure("file.reupload accepted", again["accepted"]!.GetValue<long>(), "lines", 0, HigherIsBetter: false));
    }

    private static async Task<(HttpStatusCode Status, string Body, TimeSpan Elapsed)> UploadAsync(HttpClient http, Guid sourceId, CancellationToken ct)
    {
        var clock = Stopwatch.StartNew();
        using var content = new StreamContent(new CsvStream(Lines), 64 * 1024);
        content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("text/csv");
        using var response = await http.PostAsync($"/v1/sources/{sourceId}/messages", content, ct);
        var body = await response.Content.ReadAsStringAsync(ct);
        return (response.StatusCode, body, clock.Elapsed);
    }

    /// <summary>A CSV file produced line by line as it is read.</summary>
    private sealed class CsvStream(int lines) : Stream
    {
        private int _next = -1;
        private byte[] _pending = [];
        private int _offset;

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count)
        {
            var written = 0;
            while (written < count)
            {
                if (_offset == _pending.Length)
                {
                    if (_next >= lines)
                    {
                        break;
                    }

                    _pending = Encoding.UTF8.GetBytes(_next < 0
                        ? "id;kind;customer;chat;amount;currency;text\n"
                        : string.Create(CultureInfo.InvariantCulture, $"B-{_next};{(_next % 3 == 0 ? 'D' : 'C')};C-{_next % 50_000};{Payloads.ChatId(30, _next)};{_next % 1000}.25;EUR;Booking {_next}\n"));
                    _next++;
                    _offset = 0;
                }

                var n = Math.Min(count - written, _pending.Length - _offset);
                Array.Copy(_pending, _offset, buffer, offset + written, n);
                _offset += n;
                written += n;
            }

            return written;
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
