using System.Collections.Concurrent;
using Herald.Core.Routing;
using Herald.Core.Rules;
using Herald.Storage;
using Microsoft.Extensions.Options;

namespace Herald.Server.Rules;

/// <summary>
/// Every tenant's current rule set, compiled once per version and shared by all requests of this node
/// (<see cref="IRuleSetSource"/> behind <see cref="RuleRouter"/>). Loaded eagerly at start, so the ingest path is one
/// dictionary read and never waits for the database. Kept current by <see cref="RuleChangeSubscriber"/> (Redis pub/sub and
/// PostgreSQL LISTEN/NOTIFY, either suffices), by this node's own changes at once, and by a slow safety poll of the
/// version numbers that converges whatever a lost message missed.
/// </summary>
public sealed class RuleSetCache(
    IRuleStore store,
    IOptions<DefaultRouteOptions> routeOptions,
    IOptions<RulesOptions> options,
    TimeProvider time,
    RuleMetrics metrics,
    ILogger<RuleSetCache> logger) : BackgroundService, IRuleSetSource
{
    private readonly ConcurrentDictionary<Guid, CompiledRuleSet> _sets = new();
    // The newest version seen per tenant, compiled or not: a version that does not compile is not retried forever.
    private readonly ConcurrentDictionary<Guid, long> _seen = new();
    private readonly SemaphoreSlim _loadGate = new(1, 1);
    private readonly TaskCompletionSource _loaded = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public CompiledRuleSet? For(Guid tenantId) => _sets.GetValueOrDefault(tenantId);

    /// <summary>The version this node evaluates for <paramref name="tenantId"/>; 0 when it has no rules.</summary>
    public long VersionOf(Guid tenantId) => _sets.TryGetValue(tenantId, out var set) ? set.Version : 0;

    /// <summary>Completes once the start-up load has finished (or failed and left the poll to retry).</summary>
    public Task Loaded => _loaded.Task;

    /// <summary>Compiles a stored version with this node's route defaults.</summary>
    public CompiledRuleSet Compile(string document, long version) => CompiledRuleSet.Compile(document, version, routeOptions.Value);

    /// <summary>Installs a set this node has just stored, without a round trip.</summary>
    public void Install(Guid tenantId, CompiledRuleSet set)
    {
        _sets.AddOrUpdate(tenantId, set, (_, current) => current.Version >= set.Version ? current : set);
        _seen.AddOrUpdate(tenantId, set.Version, (_, seen) => Math.Max(seen, set.Version));
    }

    /// <summary>A store (this node's or another's) announced <paramref name="version"/> for <paramref name="tenantId"/>: load it unless known.</summary>
    public async Task OnChangedAsync(Guid tenantId, long version, string via, CancellationToken ct)
    {
        if (_seen.TryGetValue(tenantId, out var seen) && seen >= version)
        {
            return;
        }

        if (await ReloadAsync(tenantId, ct))
        {
            LastAppliedVia = via;
            logger.RulesChangeApplied(tenantId, VersionOf(tenantId), via);
        }
    }

    /// <summary>The path ("local", "redis" or "postgres") that brought the last change this node applied from an announcement.</summary>
    public string? LastAppliedVia { get; private set; }

    /// <summary>Compares every tenant's stored version with this node's and reloads the ones that differ.</summary>
    public async Task SyncAsync(CancellationToken ct)
    {
        var versions = await store.CurrentVersionsAsync(ct);
        foreach (var (tenant, version) in versions)
        {
            if (!_seen.TryGetValue(tenant, out var seen) || seen != version)
            {
                await ReloadAsync(tenant, ct);
            }
        }
    }

    private async Task<bool> ReloadAsync(Guid tenantId, CancellationToken ct)
    {
        // One load at a time: concurrent announcements of the same change compile it once.
        await _loadGate.WaitAsync(ct);
        try
        {
            var current = await store.GetCurrentAsync(tenantId, ct);
            if (current is null || (_seen.TryGetValue(tenantId, out var seen) && seen == current.Version))
            {
                return false;
            }

            _seen[tenantId] = current.Version;
            try
            {
                Install(tenantId, Compile(current.Document, current.Version));
                metrics.Compiled();
                return true;
            }
            catch (RuleSetValidationException e)
            {
                // Stored sets were valid when saved; a stricter engine may reject an old one. Keep the last good set.
                logger.StoredRuleSetInvalid(tenantId, current.Version, e.Errors.Count);
                return false;
            }
        }
        finally
        {
            _loadGate.Release();
        }
    }

    /// <summary>Loads every tenant's current set before the node takes traffic (hosted services start before the
    /// server listens); a database that does not answer in time leaves it to the poll.</summary>
    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(options.Value.StartupLoadTimeout);
        try
        {
            await SyncAsync(deadline.Token);
            logger.RulesLoaded(_sets.Count);
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
        {
            logger.RulesSyncFailed(e);
        }
        finally
        {
            _loaded.TrySetResult();
        }

        await base.StartAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.PollInterval, time);
        while (await WaitAsync(timer, stoppingToken))
        {
            try
            {
                await SyncAsync(stoppingToken);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                logger.RulesSyncFailed(e);
            }
        }
    }

    private static async Task<bool> WaitAsync(PeriodicTimer timer, CancellationToken ct)
    {
        try
        {
            return await timer.WaitForNextTickAsync(ct);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    public override void Dispose()
    {
        _loadGate.Dispose();
        base.Dispose();
    }
}
