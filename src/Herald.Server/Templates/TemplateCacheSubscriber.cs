using Herald.Storage;

namespace Herald.Server.Templates;

/// <summary>A tenant's templates changed (on this node or another): forget this node's copy. Before changes were
/// announced, other nodes rendered the old template for up to <see cref="TemplatesOptions.CacheTtl"/>.</summary>
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
