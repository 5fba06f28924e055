namespace Herald.Storage;

/// <summary>
/// What one node's circuit breaker says of one provider account (issue #3): <c>closed</c>, <c>half-open</c> or
/// <c>open</c>, since when, and when the node last said so.
/// </summary>
public sealed record ProviderCircuitReport(Guid AccountId, Guid TenantId, string Node, string State, DateTimeOffset Since, DateTimeOffset SeenAt);

/// <summary>
/// Circuit state is per node (each node's breaker sees its own sends), but operators ask any api node. Nodes that send
/// report their circuits here; the provider API shows every node's view and the worst of them.
/// </summary>
public interface IProviderCircuitStore
{
    /// <summary>Stores a node's circuits (one row per node and account, replaced), seen at <paramref name="now"/>, and
    /// forgets rows no node has repeated since <paramref name="forgetBefore"/> (nodes that stopped).</summary>
    Task ReportAsync(string node, IReadOnlyList<ProviderCircuitReport> circuits, DateTimeOffset now, DateTimeOffset forgetBefore, CancellationToken ct);

    /// <summary>The tenant's reports seen at or after <paramref name="seenSince"/>, by account then node.</summary>
    Task<IReadOnlyList<ProviderCircuitReport>> ListAsync(Guid tenantId, DateTimeOffset seenSince, CancellationToken ct);
}
