using Herald.Channels.Providers;
using Herald.Server.Changes;

namespace Herald.Server.Providers;

/// <summary>
/// Provider accounts changed (created, edited, deleted, isolated, reset; a new tenant's sandbox accounts): this node's
/// <see cref="ProviderDirectory"/> reloads at once, and every other node's as soon as the change fan-out reaches it
/// (Redis or LISTEN/NOTIFY, <see cref="ProviderDirectoryReloader"/>). Without the announcement another node routed on
/// its old table until its next periodic refresh: a new account was unknown there, and a notification it claimed
/// meanwhile skipped that channel.
/// </summary>
public sealed class ProviderAccountChanges(ProviderDirectory directory, ChangeFanout fanout)
{
    /// <summary>Called after the change is committed; the key names the account, or "*" for several.</summary>
    public async Task AnnounceAsync(Guid tenantId, Guid? accountId, CancellationToken ct)
    {
        await directory.InvalidateAsync(ct);
        await fanout.PublishAsync(ChangeKinds.Providers, tenantId, accountId?.ToString("D") ?? "*", ct);
    }
}

/// <summary>Another node changed provider accounts: reload the directory. It holds every tenant's accounts in one
/// snapshot, so any change reloads it whole.</summary>
/// <remarks>Separate from <see cref="ProviderAccountChanges"/>: the fan-out depends on its subscribers, so a
/// subscriber must not depend on the fan-out.</remarks>
public sealed class ProviderDirectoryReloader(ProviderDirectory directory) : IChangeSubscriber
{
    public string Kind => ChangeKinds.Providers;

    public Task OnChangedAsync(Guid tenantId, string key, string via, CancellationToken ct) => directory.InvalidateAsync(ct);

    public Task OnMessagesLostAsync(CancellationToken ct) => directory.InvalidateAsync(ct);
}
