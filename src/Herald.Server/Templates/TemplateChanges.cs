using Herald.Server.Changes;

namespace Herald.Server.Templates;

/// <summary>A tenant's templates changed: this node forgets them at once, every other node as soon as the change
/// fan-out reaches it (before, other nodes rendered the old template for up to <see cref="TemplatesOptions.CacheTtl"/>).</summary>
public sealed class TemplateChanges(TemplateCache cache, ChangeFanout fanout)
{
    /// <summary>Called after the change is committed.</summary>
    public Task AnnounceAsync(Guid tenantId, CancellationToken ct)
    {
        cache.Invalidate(tenantId);
        return fanout.PublishAsync(ChangeKinds.Templates, tenantId, "*", ct);
    }
}

/// <summary>Another node changed a tenant's templates: forget this node's copy.</summary>
/// <remarks>Separate from <see cref="TemplateChanges"/>: the fan-out depends on its subscribers.</remarks>
public sealed class TemplateCacheSubscriber(TemplateCache cache) : IChangeSubscriber
{
    public string Kind => ChangeKinds.Templates;

    public Task OnChangedAsync(Guid tenantId, string key, string via, CancellationToken ct)
    {
        cache.Invalidate(tenantId);
        return Task.CompletedTask;
    }

    public Task OnMessagesLostAsync(CancellationToken ct)
    {
        cache.Clear();
        return Task.CompletedTask;
    }
}
