using System.Buffers;
using System.Net;
using System.Security.Cryptography;
using System.Text.Json;
using Herald.Core.Notifications;
using Herald.Ingest;
using Herald.Ingest.Files;
using Herald.Ingest.Iso20022;
using Herald.Ingest.Mapped;
using Herald.Ingest.Native;
using Herald.Ingest.Signing;
using Herald.Ingest.Sources;
using Herald.Server.Authentication;
using Herald.Server.Notifications;
using Herald.Storage;
using Herald.Storage.Secrets;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;

namespace Herald.Server.Sources;

/// <summary>
/// <c>POST /v1/sources/{id}/messages</c>: authenticates the source (scoped key, client certificate via a trusted
/// proxy, HMAC signature with replay protection), runs its adapter and hands the notifications to
/// <see cref="IngestService"/>, so rules and dedupe apply as for <c>/v1/notifications</c>.
/// </summary>
public sealed class SourceIngest(
    ISourceStore sources,
    ISecretProtector protector,
    TimeProvider time,
    IOptions<SourcesOptions> options,
    Quotas.IngestQuotas quotas,
    ILogger<SourceIngest> logger)
{
    private SourcesOptions Options => options.Value;

    // Validated at start (SourcesApi), so never null here.
    private IReadOnlyList<IPNetwork> TrustedProxies => field ??= SourcesOptions.ParseTrustedProxies(Options.TrustedProxies) ?? [];

    public async Task<IResult> HandleAsync(Guid sourceId, HttpContext context, IngestService ingest)
    {
        var user = context.User;
        var ct = context.RequestAborted;
        if (user.SourceId() is { } scoped && scoped != sourceId)
        {
            return Problems.Result(StatusCodes.Status403Forbidden, "forbidden", "This key may not do that.", "The key is scoped to another source.");
        }

        var source = await sources.GetAsync(user.TenantId(), sourceId, ct);
        if (source is null)
        {
            return Problems.NotFound("Source");
        }

        if (source.ClientCertificate is { } expected && CheckClientCertificate(context, expected) is { } reason)
        {
            logger.RequestRefused(sourceId, reason);
            return Problems.Result(StatusCodes.Status401Unauthorized, "client-certificate", "The source's client certificate is required.", reason);
        }

        using var settings = JsonDocument.Parse(source.Settings);
        var adapter = SourceConfig.ParseAdapter(source.Adapter) ?? SourceAdapter.Native;
        var (config, configErrors) = SourceConfig.Parse(adapter, settings.RootElement);
        if (config is null)
        {
            // Settings are validated on save; this only happens if validation rules tightened since.
            return Problems.Result(StatusCodes.Status409Conflict, "source-settings", "The source's settings are no longer valid; update the source.",
                string.Join(" ", configErrors.Select(e => e.Pointer + ": " + e.Detail)));
        }

        return adapter == SourceAdapter.File
            ? await HandleFileAsync(source, config, context, ingest, ct)
            : await HandleDocumentAsync(source, config, context, ingest, ct);
    }

    private async Task<IResult> HandleDocumentAsync(Source source, SourceConfig config, HttpContext context, IngestService ingest, CancellationToken ct)
    {
        var request = context.Request;
        var xml = config.Adapter == SourceAdapter.Iso20022;
        var contentType = request.ContentType ?? "";
        if (xml ? !(contentType.StartsWith("application/xml", StringComparison.OrdinalIgnoreCase) || contentType.StartsWith("text/xml", StringComparison.OrdinalIgnoreCase))
                : !contentType.StartsWith("application/json", StringComparison.OrdinalIgnoreCase))
        {
            return Problems.Result(StatusCodes.Status415UnsupportedMediaType, "unsupported-media-type",
                xml ? "The body must be XML." : "The body must be JSON.", xml ? "Send 'Content-Type: application/xml'." : "Send 'Content-Type: application/json'.");
        }

        var (body, tooLarge) = await ReadBoundedAsync(request, Options.MaxDocumentBytes, ct);
        if (tooLarge)
        {
            return Problems.Result(StatusCodes.Status413PayloadTooLarge, "payload-too-large", "The body is too large.", $"At most {Options.MaxDocumentBytes} bytes (Herald:Sources:MaxDocumentBytes).");
        }

        if (source.SigningSecret is not null)
        {
            using var hmac = BeginSignature(source, request, out var refusal);
            if (refusal is not null)
            {
                return refusal;
            }

            hmac!.AppendData(body.Span);
            if (await FinishSignatureAsync(source, request, hmac, ct) is { } signatureRefusal)
            {
                return signatureRefusal;
            }
        }

        if (body.Length == 0)
        {
            return Problems.Invalid([new InputError("/", "The body is empty.")]);
        }

        if (!xml && !System.Text.Unicode.Utf8.IsValid(body.Span))
        {
            return Problems.Invalid([new InputError("/", "The body is not valid UTF-8.")], "The document is refused; nothing of it was stored.");
        }

        var tenantId = source.TenantId;
        if (config.Adapter == SourceAdapter.Native)
        {
            var (notification, errors) = NotificationParser.Parse(body.Span, tenantId, source.Id, request.Headers["Idempotency-Key"].FirstOrDefault());
            if (notification is null)
            {
                return Problems.Invalid(errors, "The notification is invalid; nothing was stored.");
            }

            return await quotas.TakeNotificationsAsync(tenantId, 1, ct) is { } overQuota
                ? overQuota.ToResult(context)
                : await AcceptOneAsync(ingest, notification, context, ct);
        }

        var document = xml
            ? Camt054Adapter.Adapt(body, config.Camt!, tenantId, source.Id, Options.MaxDocumentBytes)
            : MappedJsonAdapter.Adapt(body, config.Mapping!, tenantId, source.Id);
        if (document.DocumentErrors.Count > 0)
        {
            logger.DocumentRefused(source.Id, document.DocumentErrors.Count);
            return Problems.Invalid(Cap(document.DocumentErrors), "The document is refused; nothing of it was stored.");
        }

        // Whole document, as a batch on /v1/notifications/batch: refused as one when over a quota.
        if (await quotas.TakeNotificationsAsync(tenantId, document.Items.Count, ct) is { } documentOverQuota)
        {
            return documentOverQuota.ToResult(context);
        }

        if (!document.IsBatch)
        {
            var item = document.Items[0];
            return item.Notification is null
                ? Problems.Invalid(item.Errors, "The message is invalid; nothing was stored.")
                : await AcceptOneAsync(ingest, item.Notification, context, ct);
        }

        var results = new SourceItemResult[document.Items.Count];
        var valid = new List<NewNotification>();
        var validIndex = new List<int>();
        for (var i = 0; i < document.Items.Count; i++)
        {
            var item = document.Items[i];
            if (item.Notification is null)
            {
                results[i] = new SourceItemResult(i, item.Location, null, "rejected", null, item.Errors);
            }
            else
            {
                valid.Add(item.Notification);
                validIndex.Add(i);
            }
        }

        foreach (var chunk in valid.Select((n, i) => (n, i)).Chunk(Options.FileBatchSize))
        {
            // Per item: stored, or refused for its customer (an unknown customer id without contacts), located like a
            // parse error; the rest of the document is stored all the same.
            var accepted = await ingest.AcceptBatchAsync([.. chunk.Select(c => c.n)], j => document.Items[validIndex[chunk[j].i]].Location + ", mapped to ", ct);
            for (var j = 0; j < accepted.Length; j++)
            {
                var index = validIndex[chunk[j].i];
                results[index] = accepted[j] is ({ } r, _)
                    ? new SourceItemResult(index, document.Items[index].Location, r.Id, r.Created ? "accepted" : "duplicate", r.Status, null)
                    : new SourceItemResult(index, document.Items[index].Location, null, "rejected", null, [accepted[j].Error!]);
            }
        }

        var rejected = results.Count(r => r.Outcome == "rejected");
        if (rejected == results.Length)
        {
            return Problems.Invalid(Cap([.. results.SelectMany(r => r.Errors ?? [])]), "Every item is rejected; nothing was stored.");
        }

        var capped = results.Length > Options.MaxReportedErrors;
        var report = new SourceIngestResult(source.Adapter, results.Count(r => r.Outcome == "accepted"), results.Count(r => r.Outcome == "duplicate"), rejected,
            capped ? results[..Options.MaxReportedErrors] : results, capped,
            "Each item is reported on its own: accepted and duplicate items are stored (a duplicate was stored before), rejected items are not.");
        return TypedResults.Json(report, SourcesJson.Default.SourceIngestResult, statusCode: StatusCodes.Status202Accepted);
    }

    private async Task<IResult> HandleFileAsync(Source source, SourceConfig config, HttpContext context, IngestService ingest, CancellationToken ct)
    {
        var request = context.Request;
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
        {
            // Files are streamed, so this endpoint alone may take far more than the server-wide request limit.
            limit.MaxRequestBodySize = Options.MaxFileBytes;
        }

        if (request.ContentLength > Options.MaxFileBytes)
        {
            return Problems.Result(StatusCodes.Status413PayloadTooLarge, "payload-too-large", "The file is too large.", $"At most {Options.MaxFileBytes} bytes (Herald:Sources:MaxFileBytes).");
        }

        Stream input = request.Body;
        string? spool = null;
        try
        {
            if (source.SigningSecret is not null)
            {
                // The signature covers the whole file, so it is checked before any line is taken: the file is spooled to
                // a temporary file while the MAC is computed (memory stays flat), then read from there.
                using var hmac = BeginSignature(source, request, out var refusal);
                if (refusal is not null)
                {
                    return refusal;
                }

                spool = Path.Combine(Path.GetTempPath(), "herald-upload-" + Guid.NewGuid().ToString("N"));
                await using (var file = new FileStream(spool, FileMode.CreateNew, FileAccess.Write, FileShare.None, 64 * 1024, FileOptions.Asynchronous))
                {
                    var buffer = ArrayPool<byte>.Shared.Rent(64 * 1024);
                    try
                    {
                        long total = 0;
                        int read;
                        while ((read = await request.Body.ReadAsync(buffer.AsMemory(0, 64 * 1024), ct)) > 0)
                        {
                            total += read;
                            if (total > Options.MaxFileBytes)
                            {
                                return Problems.Result(StatusCodes.Status413PayloadTooLarge, "payload-too-large", "The file is too large.", $"At most {Options.MaxFileBytes} bytes.");
                            }

                            hmac!.AppendData(buffer.AsSpan(0, read));
                            await file.WriteAsync(buffer.AsMemory(0, read), ct);
                        }
                    }
                    finally
                    {
                        ArrayPool<byte>.Shared.Return(buffer);
                    }
                }

                if (await FinishSignatureAsync(source, request, hmac!, ct) is { } signatureRefusal)
                {
                    return signatureRefusal;
                }

                input = new FileStream(spool, FileMode.Open, FileAccess.Read, FileShare.None, 64 * 1024, FileOptions.Asynchronous | FileOptions.DeleteOnClose);
            }

            await using (input == request.Body ? null : input)
            {
                return await IngestFileAsync(source, config, input, ingest, ct);
            }
        }
        finally
        {
            if (spool is not null && File.Exists(spool))
            {
                File.Delete(spool);
            }
        }
    }

    // Lines are mapped on the request's thread while the previous batch is being stored (at most two batches are held),
    // so parsing and the database round trip overlap. Batches commit one after another in file order: when a batch
    // fails, every line before it is decided (stored, duplicate or rejected) and every line from it on is not.
    private async Task<IResult> IngestFileAsync(Source source, SourceConfig config, Stream input, IngestService ingest, CancellationToken ct)
    {
        var progress = new FileProgress(Options.MaxReportedErrors);
        var batch = new FileBatch(Options.FileBatchSize);
        Task<FileBatch>? storing = null;
        long lines = 0;
        try
        {
            await foreach (var item in FileAdapter.ReadAsync(input, config.Layout!, config.Mapping!, source.TenantId, source.Id, Options.MaxLineLength, ct))
            {
                lines++;
                if (item.Notification is null)
                {
                    progress.Reject(new SourceItemResult(item.Index, item.Location, null, "rejected", null, item.Errors));
                    continue;
                }

                batch.Add(item.Notification, item.Index, item.Location);
                if (batch.Count >= Options.FileBatchSize)
                {
                    if (storing is not null)
                    {
                        progress.Committed(await storing);
                    }

                    // On the thread pool: routing the batch (CPU) must not hold up reading the next one.
                    var full = batch;
                    storing = Task.Run(() => StoreAsync(ingest, full, ct), CancellationToken.None);
                    batch = new FileBatch(Options.FileBatchSize);
                }
            }

            if (storing is not null)
            {
                progress.Committed(await storing);
                storing = null;
            }

            if (batch.Count > 0)
            {
                progress.Committed(await StoreAsync(ingest, batch, ct));
            }
        }
        catch (FileRefusedException e)
        {
            // Only the header can refuse a file, and it comes before any line is stored.
            return Problems.Invalid([e.Error], "The file is refused; nothing of it was stored.");
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            await SettleAsync(storing, progress, ct);
            return FileProblem(StatusCodes.Status413PayloadTooLarge, "payload-too-large", $"The file is larger than {Options.MaxFileBytes} bytes (Herald:Sources:MaxFileBytes).", progress);
        }
        catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            // The database (or the upload) failed part-way. What was committed stays: the contract is "not atomic,
            // resumable" (docs/INTEGRATIONS.md): upload the same file again and the stored lines come back as duplicates.
            await SettleAsync(storing, progress, ct);
            logger.FileInterrupted(source.Id, progress.Accepted, progress.CommittedThroughLine, e);
            return FileProblem(StatusCodes.Status503ServiceUnavailable, "file-interrupted", "The file was stored only in part; upload it again.", progress);
        }

        logger.FileIngested(source.Id, progress.Accepted, progress.Duplicate, progress.Rejected, lines);
        var listed = progress.Reported.Count;
        if (progress.Accepted + progress.Duplicate == 0)
        {
            return Problems.Result(StatusCodes.Status400BadRequest, "validation", "Every line is rejected; nothing was stored.",
                $"{progress.Rejected} line(s) rejected" + (progress.Rejected > listed ? $"; the first {listed} are listed." : "."),
                [.. progress.Reported.SelectMany(r => r.Errors ?? [])]);
        }

        var report = new SourceIngestResult(source.Adapter, progress.Accepted, progress.Duplicate, progress.Rejected, progress.Reported, progress.Rejected > listed,
            "Each line is reported on its own: accepted and duplicate lines are counted (a duplicate was stored by an earlier upload); " +
            "rejected lines are listed with their line number and field" + (progress.Rejected > listed ? $", the first {listed} of them." : ".") +
            " The whole file is decided.")
        {
            Complete = true,
        };
        return TypedResults.Json(report, SourcesJson.Default.SourceIngestResult, statusCode: StatusCodes.Status202Accepted);
    }

    // The batch still being stored when the upload failed: counted if it committed.
    private static async Task SettleAsync(Task<FileBatch>? storing, FileProgress progress, CancellationToken ct)
    {
        if (storing is null)
        {
            return;
        }

        try
        {
            progress.Committed(await storing);
        }
        catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            // That batch failed as a whole: none of its lines is stored, and the answer says so.
        }
    }

    private static IResult FileProblem(int status, string type, string title, FileProgress progress)
    {
        var problem = Problems.Create(status, type, title, progress.CommittedThroughLine == 0
            ? "No line was stored. Upload the whole file again."
            : $"Every line up to line {progress.CommittedThroughLine} is decided (stored, duplicate or rejected); no line after it is stored. " +
              "Upload the whole file again: the lines already stored come back as duplicates, so each line is delivered once.");
        var body = new FileUploadProblem(problem.Type, problem.Title, problem.Status, problem.Detail, false, progress.CommittedThroughLine,
            progress.Accepted, progress.Duplicate, progress.Rejected, [.. progress.Reported.SelectMany(r => r.Errors ?? [])]);
        return TypedResults.Json(body, SourcesJson.Default.FileUploadProblem, Problems.ContentType, status);
    }

    private static async Task<FileBatch> StoreAsync(IngestService ingest, FileBatch batch, CancellationToken ct)
    {
        // Per line: its result, or the customer problem that kept it out; the batch commits in one transaction.
        var outcome = await ingest.AcceptBatchAsync(batch.Notifications, i => batch.Locations[i] + ", mapped to ", ct);
        batch.Outcome = outcome;
        return batch;
    }

    /// <summary>One batch of mapped lines and, once stored, each line's outcome.</summary>
    private sealed class FileBatch(int capacity)
    {
        public List<NewNotification> Notifications { get; } = new(capacity);
        public List<int> Lines { get; } = new(capacity);
        public List<string> Locations { get; } = new(capacity);
        public (AcceptResult? Result, InputError? Error)[]? Outcome { get; set; }
        public int Count => Notifications.Count;

        public void Add(NewNotification notification, int line, string location)
        {
            Notifications.Add(notification);
            Lines.Add(line);
            Locations.Add(location);
        }
    }

    /// <summary>Counts, the first rejected lines, and the line up to which everything is committed.</summary>
    private sealed class FileProgress(int maxReported)
    {
        public long Accepted { get; private set; }
        public long Duplicate { get; private set; }
        public long Rejected { get; private set; }
        public int CommittedThroughLine { get; private set; }
        public List<SourceItemResult> Reported { get; } = [];

        public void Reject(SourceItemResult item)
        {
            Rejected++;
            if (Reported.Count < maxReported)
            {
                Reported.Add(item);
            }
        }

        public void Committed(FileBatch batch)
        {
            for (var i = 0; i < batch.Count; i++)
            {
                var (result, error) = batch.Outcome![i];
                if (result is { } r)
                {
                    _ = r.Created ? Accepted++ : Duplicate++;
                }
                else
                {
                    Reject(new SourceItemResult(batch.Lines[i], batch.Locations[i], null, "rejected", null, [error!]));
                }
            }

            CommittedThroughLine = Math.Max(CommittedThroughLine, batch.Lines[^1]);
        }
    }

    private static async Task<IResult> AcceptOneAsync(IngestService ingest, NewNotification notification, HttpContext context, CancellationToken ct)
    {
        AcceptResult result;
        try
        {
            result = await ingest.AcceptAsync(notification, ct);
        }
        catch (Customers.CustomerRejectedException e)
        {
            return Problems.Result(StatusCodes.Status422UnprocessableEntity, "customer", e.Title, "See 'errors' for the reason; nothing was stored.", e.Errors);
        }
        catch (Notifications.UnstorableNotificationException e)
        {
            return Problems.Invalid([e.Error], "The notification cannot be stored.");
        }

        if (result.Mismatch)
        {
            return Notifications.NotificationsApi.IdempotencyMismatch(
                result, context.Request.Headers.ContainsKey("Idempotency-Key") ? "header/Idempotency-Key" : "/externalId");
        }

        context.Response.Headers.Location = $"/v1/notifications/{result.Id}";
        return TypedResults.Json(new AcceptedView(result.Id, result.Status), HeraldJson.Default.AcceptedView,
            statusCode: result.Created ? StatusCodes.Status202Accepted : StatusCodes.Status200OK);
    }

    private IncrementalHash? BeginSignature(Source source, HttpRequest request, out IResult? refusal)
    {
        var check = RequestSignature.CheckTimestamp(request.Headers[RequestSignature.TimestampHeader].FirstOrDefault(), time.GetUtcNow(), Options.SignatureWindow, out var timestamp);
        if (check != SignatureCheck.Valid)
        {
            refusal = SignatureRefused(source, check, RequestSignature.TimestampHeader);
            return null;
        }

        refusal = null;
        return RequestSignature.Start(protector.Unprotect(source.SigningSecret!, SourcesApi.Context(source.Id)), timestamp);
    }

    private async Task<IResult?> FinishSignatureAsync(Source source, HttpRequest request, IncrementalHash hmac, CancellationToken ct)
    {
        var check = RequestSignature.Verify(request.Headers[RequestSignature.SignatureHeader].FirstOrDefault(), hmac.GetHashAndReset(), out var matched);
        if (check != SignatureCheck.Valid)
        {
            return SignatureRefused(source, check, RequestSignature.SignatureHeader);
        }

        // A signature is good for one request: a replay inside the window is refused, on every node.
        var now = time.GetUtcNow();
        if (!await sources.TryUseSignatureAsync(source.Id, matched!, now + Options.SignatureWindow + Options.SignatureWindow, now, ct))
        {
            logger.RequestRefused(source.Id, "replayed signature");
            return Problems.Result(StatusCodes.Status401Unauthorized, "signature", "The request signature was used before (a replay).",
                "Sign every request anew with a fresh timestamp.");
        }

        return null;
    }

    private IResult SignatureRefused(Source source, SignatureCheck check, string header)
    {
        var detail = check switch
        {
            SignatureCheck.Missing => $"The source requires signed requests: send '{RequestSignature.TimestampHeader}' (unix seconds) and '{RequestSignature.SignatureHeader}: v1=<hex HMAC-SHA256 of \"{{timestamp}}.{{body}}\">'.",
            SignatureCheck.Malformed => $"'{header}' is malformed.",
            SignatureCheck.OutsideWindow => $"The timestamp is more than {Options.SignatureWindow.TotalSeconds:0} seconds from the server's clock.",
            _ => "The signature does not match the body and timestamp.",
        };
        logger.RequestRefused(source.Id, check.ToString());
        return Problems.Result(StatusCodes.Status401Unauthorized, "signature", "The request signature is refused.", detail);
    }

    private string? CheckClientCertificate(HttpContext context, string expected)
    {
        var remote = context.Connection.RemoteIpAddress;
        if (remote is { IsIPv4MappedToIPv6: true })
        {
            remote = remote.MapToIPv4();
        }

        if (remote is null || !TrustedProxies.Any(network => network.Contains(remote)))
        {
            return "The request did not come through a trusted proxy (Herald:Sources:TrustedProxies), so no client certificate can be verified.";
        }

        var presented = context.Request.Headers[Options.ClientCertificateHeader].FirstOrDefault();
        return presented is null ? "The proxy forwarded no client certificate."
            : CryptographicOperations.FixedTimeEquals(
                System.Text.Encoding.ASCII.GetBytes(RequestSignature.NormaliseFingerprint(presented)), System.Text.Encoding.ASCII.GetBytes(expected))
                ? null
                : "The client certificate is not the one configured for this source.";
    }

    private IReadOnlyList<InputError> Cap(IReadOnlyList<InputError> errors) =>
        errors.Count <= Options.MaxReportedErrors ? errors : [.. errors.Take(Options.MaxReportedErrors)];

    private static async Task<(ReadOnlyMemory<byte> Body, bool TooLarge)> ReadBoundedAsync(HttpRequest request, int maxBytes, CancellationToken ct)
    {
        if (request.ContentLength > maxBytes)
        {
            return (default, true);
        }

        var buffer = new ArrayBufferWriter<byte>(request.ContentLength is > 0 and var length ? (int)length : 4096);
        while (true)
        {
            var read = await request.Body.ReadAsync(buffer.GetMemory(4096), ct);
            if (read == 0)
            {
                return (buffer.WrittenMemory, false);
            }

            buffer.Advance(read);
            if (buffer.WrittenCount > maxBytes)
            {
                return (default, true);
            }
        }
    }
}
