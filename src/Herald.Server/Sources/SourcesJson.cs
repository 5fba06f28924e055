using System.Text.Json;
using System.Text.Json.Serialization;
using Herald.Core.Notifications;
using Herald.Ingest;

namespace Herald.Server.Sources;

/// <summary>Create or replace a source.</summary>
/// <param name="RequireSignature">True: requests must carry an HMAC signature; a secret is generated (shown once) when
/// the source has none. False: no signature; the secret is dropped.</param>
/// <param name="ClientCertificate">Fingerprint (SHA-1 or SHA-256, hex, colons allowed) of the client certificate the source must present.</param>
public sealed record SourceRequest(string? Name, string? Adapter, JsonElement? Settings, bool? RequireSignature, string? ClientCertificate);

/// <param name="SigningSecret">Only in the answer that created it: shown once, stored encrypted.</param>
public sealed record SourceView(
    Guid Id, string Name, string Adapter, JsonElement Settings, bool SignatureRequired, string? ClientCertificate,
    DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt, string? SigningSecret = null);

public sealed record SigningSecretView(Guid SourceId, string SigningSecret);

/// <summary>One item of a document or file: its location, and the notification or why it was rejected.</summary>
public sealed record SourceItemResult(int Index, string Location, Guid? Id, string Outcome, NotificationStatus? Status, IReadOnlyList<InputError>? Errors);

/// <summary>The per-item report of a batch-like input (camt.054 document, mapped JSON with items, file).</summary>
/// <param name="Items">Every item for documents; for files only rejected lines (accepted ones are counted).</param>
/// <param name="ItemsCapped">True when more items were rejected than listed (Herald:Sources:MaxReportedErrors).</param>
public sealed record SourceIngestResult(
    string Adapter, long Accepted, long Duplicate, long Rejected, IReadOnlyList<SourceItemResult> Items, bool ItemsCapped, string Note)
{
    /// <summary>Files: true when every line of the file is decided (an interrupted upload answers <see cref="FileUploadProblem"/>).</summary>
    public bool? Complete { get; init; }
}

/// <summary>
/// RFC 9457 answer to a file upload that stopped part-way (the database failed, or the file passed
/// Herald:Sources:MaxFileBytes): uploads are not atomic but resumable. Every line up to
/// <paramref name="CommittedThroughLine"/> is decided and its stored lines stay; none after it is stored.
/// Uploading the same file again completes it: stored lines come back as duplicates.
/// </summary>
/// <param name="Errors">The rejected lines seen so far (at most Herald:Sources:MaxReportedErrors).</param>
public sealed record FileUploadProblem(
    string Type, string Title, int Status, string? Detail, bool Complete, int CommittedThroughLine,
    long Accepted, long Duplicate, long Rejected, IReadOnlyList<InputError> Errors);

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(SourceRequest))]
[JsonSerializable(typeof(SourceView))]
[JsonSerializable(typeof(List<SourceView>))]
[JsonSerializable(typeof(SigningSecretView))]
[JsonSerializable(typeof(SourceIngestResult))]
[JsonSerializable(typeof(FileUploadProblem))]
public sealed partial class SourcesJson : JsonSerializerContext;
