using Herald.Channels.Providers;
using Herald.Storage;

namespace Herald.Server.Providers;

/// <summary>
/// Provider accounts changed (created, edited, deleted, isolated, reset; a new tenant's sandbox accounts): this node's
/// <see cref="ProviderDirectory"/> reloads as soon as the provider store commits, and every other node's as soon as
/// the change feed reaches it (Redis or LISTEN/NOTIFY). Without it another node routed on its old table until its next
/// periodic refresh: a new account was unknown there, and a notification it claimed meanwhile skipped that channel.
/// The directory holds every tenant's accounts in one snapshot, so any change reloads it whole.
/// </summary>
public sealed class ProviderDirectoryReloader(ProviderDirectory directory) : IChangeSubscriber
{
    public string Kind => ChangeKinds.Providers;

    public Task OnChangedAsync(Guid tenantId, string key, string via, CancellationToken ct) => directory.InvalidateAsync(ct);

    public Task OnMessagesLostAsync(CancellationToken ct) => directory.InvalidateAsync(ct);
}
