using System.Collections.Concurrent;
using System.ComponentModel.DataAnnotations;
using Herald.Core.Templates;
using Herald.Storage;
using Microsoft.Extensions.Options;

namespace Herald.Server.Templates;

/// <summary>Settings under <c>Herald:Templates</c> (docs/CONFIGURATION.md).</summary>
public sealed class TemplatesOptions
{
    public const string Section = "Herald:Templates";

    /// <summary>How long a node uses a tenant's templates before reading them again. Changes apply at once on every
    /// node through the change fan-out; this bounds how long a node that missed the message keeps old ones.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "01:00:00")]
    public TimeSpan CacheTtl { get; set; } = TimeSpan.FromSeconds(30);
}

/// <summary>
/// Every tenant's templates, per node: one store read per tenant per <see cref="TemplatesOptions.CacheTtl"/>, not
/// per message. Cleared for a tenant when its templates change, on this node at once and on the others through the
/// change feed (<see cref="TemplateCacheSubscriber"/>); the TTL is the safety net for a lost message. If a refresh fails
/// the last good list is kept.
/// </summary>
public sealed class TemplateCache(ITemplateStore store, TimeProvider time, IOptions<TemplatesOptions> options, ILogger<TemplateCache> logger)
{
    private readonly ConcurrentDictionary<Guid, Entry> _entries = new();
    private readonly TimeSpan _ttl = options.Value.CacheTtl;

    public async ValueTask<IReadOnlyList<MessageTemplate>> GetAsync(Guid tenantId, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        if (_entries.TryGetValue(tenantId, out var entry) && entry.Expires > now)
        {
            return entry.Templates;
        }

        try
        {
            var templates = await store.ListAsync(tenantId, ct);
            _entries[tenantId] = new Entry(templates, now + _ttl);
            return templates;
        }
        catch (Exception e) when (e is not OperationCanceledException && entry is not null)
        {
            logger.TemplatesLoadFailed(tenantId, e);
            _entries[tenantId] = entry with { Expires = now + _ttl };
            return entry.Templates;
        }
    }

    /// <summary>Forgets a tenant's templates on this node (after a change through the API).</summary>
    public void Invalidate(Guid tenantId) => _entries.TryRemove(tenantId, out _);

    /// <summary>Whether this node holds the tenant's templates (tests watch a change arrive).</summary>
    public bool Holds(Guid tenantId) => _entries.ContainsKey(tenantId);

    /// <summary>Forgets every tenant's templates (change messages may have been lost).</summary>
    public void Clear() => _entries.Clear();

    private sealed record Entry(IReadOnlyList<MessageTemplate> Templates, DateTimeOffset Expires);
}
