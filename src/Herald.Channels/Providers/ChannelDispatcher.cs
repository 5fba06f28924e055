using System.Collections.Concurrent;
using System.Collections.Frozen;
using System.Diagnostics;
using Herald.Channels.Providers.RateLimiting;
using Herald.Core.Delivery;
using Herald.Core.Notifications;
using Herald.Core.Observability;
using Herald.Core.Providers;
using Herald.Core.Routing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Polly;
using Polly.CircuitBreaker;
using Polly.Timeout;

namespace Herald.Channels.Providers;

/// <summary>The provider a send went to (null when none could take it) and what it answered.</summary>
public sealed record DispatchResult(ProviderAccount? Provider, SendOutcome Outcome)
{
    /// <summary>The attempt id the answering send carried: the message's own, or a new one after a failover.</summary>
    public Guid? AttemptId { get; init; }

    /// <summary>When the answering send started (null when no provider was tried).</summary>
    public DateTimeOffset? StartedAt { get; init; }

    /// <summary>Earlier tries of this call that providers refused transiently, oldest first; each is its own attempt.</summary>
    public IReadOnlyList<DispatchTry> Failovers { get; init; } = [];
}

/// <summary>One send to one provider account within a dispatch.</summary>
public sealed record DispatchTry(ProviderAccount Provider, Guid AttemptId, SendOutcome Outcome, DateTimeOffset StartedAt);

/// <summary>Circuit state of one provider account, as metrics and /readyz report it; ordered from letting sends through to
/// holding them back (of two views, the larger value is the worse).</summary>
public enum ProviderHealthState
{
    /// <summary>Sends flow.</summary>
    Closed,
    /// <summary>The break is over: the next send is a probe that closes or reopens the circuit.</summary>
    HalfOpen,
    /// <summary>Too many transient failures: sends are rejected until the break ends.</summary>
    Open,
    /// <summary>Opened by hand; stays open until closed by hand.</summary>
    Isolated,
}

public sealed record ProviderHealth(Guid AccountId, Guid TenantId, Channel Channel, string Kind, string Name, ProviderHealthState State);

/// <summary>
/// The only thing the delivery worker calls to send. Picks a healthy provider account of the tenant's channel and
/// sends through that account's resilience pipeline: a timeout inside a circuit breaker fed by transient outcomes
/// (no exceptions needed). There are no retries here: retries and backoff belong to the delivery state machine,
/// which sees every outcome. An open circuit moves the send to the channel's next healthy provider.
/// </summary>
public sealed partial class ChannelDispatcher
{
    private readonly ProviderDirectory _directory;
    private readonly FrozenDictionary<string, IChannelConnector> _connectors;
    private readonly IProviderSelector _selector;
    private readonly ChannelsOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<ChannelDispatcher> _logger;
    private readonly ConcurrentDictionary<Guid, ProviderCircuit> _circuits = new();
    private readonly IProviderRateLimiter? _rateLimiter;

    public ChannelDispatcher(
        ProviderDirectory directory,
        IEnumerable<IChannelConnector> connectors,
        IProviderSelector selector,
        IOptions<ChannelsOptions> options,
        TimeProvider time,
        ILogger<ChannelDispatcher> logger,
        IProviderRateLimiter? rateLimiter = null)
    {
        _rateLimiter = rateLimiter;
        _directory = directory;
        _connectors = connectors.ToFrozenDictionary(static c => c.Kind, StringComparer.Ordinal);
        _selector = selector;
        _options = options.Value;
        _time = time;
        _logger = logger;
    }

    /// <summary>Whether the tenant has at least one enabled provider for the channel whose circuit lets sends through.</summary>
    public bool IsUsable(Guid tenantId, Channel channel)
    {
        foreach (var account in _directory.For(tenantId, channel))
        {
            if (HasConnector(account) && IsPassable(account))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// Sends through one healthy provider of the channel, chosen by the cost policy. Never throws for
    /// provider trouble; only cancellation of <paramref name="ct"/> propagates. With no healthy provider the outcome is
    /// transient <c>no_healthy_provider</c> and <see cref="DispatchResult.Provider"/> is null.
    /// <para>Failover: a send the provider refused transiently (5xx, 429, unusable settings) is tried on the channel's
    /// next healthy account, each account at most once per call; <see cref="DispatchResult.Failovers"/> lists the
    /// refused tries. A timeout or a connector error is not failed over: the provider may have taken the message, and
    /// a second provider would send it twice; nor is a partial send (<see cref="SendOutcome.PartialSendCode"/>).</para>
    /// <para>Cost: an accepted send costs what the connector reported, else the account's price for the destination
    /// country (× SMS segments); refused sends cost nothing.</para>
    /// </summary>
    public async Task<DispatchResult> SendAsync(Guid tenantId, Channel channel, OutboundMessage message, CancellationToken ct) =>
        await SendAsync(tenantId, channel, message, null, ct).ConfigureAwait(false);

    /// <inheritdoc cref="SendAsync(Guid, Channel, OutboundMessage, CancellationToken)"/>
    /// <param name="policy">The route's cost policy; null = <see cref="ChannelsOptions.DefaultCostPolicy"/>.</param>
    public async Task<DispatchResult> SendAsync(Guid tenantId, Channel channel, OutboundMessage message, CostPolicy? policy, CancellationToken ct)
    {
        var accounts = _directory.For(tenantId, channel);
        List<ProviderAccount>? candidates = null;
        foreach (var account in accounts)
        {
            if (HasConnector(account) && IsPassable(account))
            {
                (candidates ??= new List<ProviderAccount>(accounts.Count)).Add(account);
            }
        }

        ProviderChoice? choice = null;
        List<DispatchTry>? failovers = null;
        (ProviderAccount Account, TimeSpan RetryAfter)? rateLimited = null;
        while (candidates is { Count: > 0 })
        {
            choice ??= new ProviderChoice(tenantId, channel, message, policy ?? _options.DefaultCostPolicy, Pricing.DestinationCountry(channel, message.To), Latency);
            var index = _selector.Pick(choice, candidates);
            var account = candidates[index];
            candidates.RemoveAt(index);

            // The first send of a call carries the caller's attempt id; a failover is a new attempt with its own id.
            var attemptId = failovers is null ? message.AttemptId : TimeOrderedIds.New(_time.GetUtcNow());
            var outgoing = attemptId == message.AttemptId ? message : message with { AttemptId = attemptId };
            var startedAt = _time.GetUtcNow();
            var started = _time.GetTimestamp();
            var connector = _connectors[account.Kind];
            var circuit = Circuit(account);
            SendOutcome outcome;

            // Rate limit (Providers/RateLimiting): a permit before the send, after a bounded wait. Without one the
            // next account is tried; nothing was sent, so it never counts against the account's circuit.
            if (_rateLimiter is { } limiter && account.RatePerSecond is not null)
            {
                var permit = await limiter.AcquireAsync(account, message.Priority, ct).ConfigureAwait(false);
                if (!permit.Granted)
                {
                    rateLimited = rateLimited is { } earlier && earlier.RetryAfter <= permit.RetryAfter ? earlier : (account, permit.RetryAfter);
                    continue;
                }

                var priority = message.Priority;
                outgoing = outgoing with
                {
                    NextPartPermit = async token =>
                        await limiter.AcquireAsync(account, priority, token).ConfigureAwait(false) is { Granted: false } refused ? refused.RetryAfter : null,
                };
            }

            if (!circuit.TryPass(_time.GetUtcNow()))
            {
                continue;   // held open by its run of failures (or its probe is already out): next provider
            }

            // One span per provider call (docs/OBSERVABILITY.md, Traces), inside the worker's send span.
            using var span = HeraldTraces.Source.StartActivity("herald.provider.send", ActivityKind.Client);
            span?.SetTag(HeraldTraces.Tags.Account, account.Id);
            span?.SetTag(HeraldTraces.Tags.ProviderKind, account.Kind);
            span?.SetTag(HeraldTraces.Tags.Attempt, attemptId);
            try
            {
                outcome = await circuit.Pipeline.ExecuteAsync(
                    static (state, token) => new ValueTask<SendOutcome>(state.connector.SendAsync(state.outgoing, state.account, token)),
                    (connector, outgoing, account),
                    ct).ConfigureAwait(false);
            }
            catch (BrokenCircuitException)
            {
                // Opened (or half-open with its probe already in flight) since we looked: next provider.
                continue;
            }
            catch (TimeoutRejectedException)
            {
                outcome = SendOutcome.Transient("timeout", $"no answer within {_options.SendTimeout.TotalSeconds:0.###} s");
            }
            catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
            {
                // Connectors must not throw; one that does has a bug. The breaker counted it as a failure.
                LogConnectorThrew(_logger, e, account.Kind, account.Id);
                outcome = SendOutcome.Transient("connector_error", $"the {account.Kind} connector failed (see the log)");
            }

            span?.SetTag(HeraldTraces.Tags.Outcome, outcome.Kind);
            if (outcome.Kind is not (SendOutcomeKind.Accepted or SendOutcomeKind.Delivered))
            {
                span.Fail(outcome.ErrorCode);
            }

            var elapsed = _time.GetElapsedTime(started);
            Latency.Record(account.Id, elapsed);
            ProviderCallInstruments.Record(account, outcome.Kind, elapsed);
            ObserveRun(circuit, account.Id, outcome);
            if (ProviderMessageIds.Storable(outcome.ProviderMessageId) is var storableId && !ReferenceEquals(storableId, outcome.ProviderMessageId))
            {
                outcome = outcome with { ProviderMessageId = storableId };
            }

            if (outcome.Kind is SendOutcomeKind.Accepted or SendOutcomeKind.Delivered)
            {
                outcome = outcome with { Cost = outcome.Cost ?? Pricing.Cost(account, channel, choice.Country, message.Text) };
            }

            var tried = new DispatchTry(account, attemptId, outcome, startedAt);
            if (outcome.Kind == SendOutcomeKind.TransientFailure && outcome.ErrorCode is not ("timeout" or "connector_error" or SendOutcome.PartialSendCode)
                && candidates.Count > 0)
            {
                LogFailover(_logger, account.Id, outcome.ErrorCode);
                (failovers ??= []).Add(tried);
                continue;
            }

            return new DispatchResult(account, outcome) { AttemptId = attemptId, StartedAt = startedAt, Failovers = (IReadOnlyList<DispatchTry>?)failovers ?? [] };
        }

        if (failovers is { Count: > 0 })
        {
            // Every remaining account opened its circuit while we failed over: the last refusal is the answer.
            var last = failovers[^1];
            failovers.RemoveAt(failovers.Count - 1);
            return new DispatchResult(last.Provider, last.Outcome) { AttemptId = last.AttemptId, StartedAt = last.StartedAt, Failovers = failovers };
        }

        if (rateLimited is { } limited)
        {
            return new DispatchResult(limited.Account, SendOutcome.RateLimited(limited.RetryAfter));
        }

        return new DispatchResult(null, SendOutcome.Transient(
            "no_healthy_provider",
            accounts.Count == 0 ? $"no enabled {channel} provider account" : $"every {channel} provider account is unhealthy"));
    }

    /// <summary>Observed send latency per account (the <c>fastest</c> policy's input).</summary>
    public ProviderLatency Latency { get; } = new();

    /// <summary>Closes an account's circuit by hand on this node (after an outage, or to end an isolation).
    /// Returns false when the account is not in the directory.</summary>
    public async Task<bool> ResetAsync(Guid accountId)
    {
        if (_directory.Find(accountId) is not { } account)
        {
            return false;
        }

        var circuit = Circuit(account);
        circuit.EndRun();
        await circuit.Control.CloseAsync().ConfigureAwait(false);
        return true;
    }

    /// <summary>Circuit state of one account (closed when it never sent).</summary>
    public ProviderHealthState GetState(Guid accountId) =>
        _directory.Find(accountId) is { Isolated: true } ? ProviderHealthState.Isolated
        : _circuits.TryGetValue(accountId, out var circuit) ? circuit.State(_time.GetUtcNow())
        : ProviderHealthState.Closed;

    /// <summary>Health of every enabled account in the directory.</summary>
    public IReadOnlyList<ProviderHealth> GetHealth()
    {
        var all = _directory.All;
        var result = new ProviderHealth[all.Count];
        for (var i = 0; i < all.Count; i++)
        {
            var a = all[i];
            result[i] = new ProviderHealth(a.Id, a.TenantId, a.Channel, a.Kind, a.Name, GetState(a.Id));
        }

        return result;
    }

    /// <summary>Counts the account's run of transient failures and opens its circuit when the run reaches
    /// <see cref="ChannelsOptions.CircuitConsecutiveFailures"/>; a success ends the run and closes a circuit it opened.
    /// The same outcomes feed Polly's ratio breaker (<see cref="Build"/>); this catches what the ratio misses.</summary>
    private void ObserveRun(ProviderCircuit circuit, Guid accountId, SendOutcome outcome)
    {
        if (outcome.Kind != SendOutcomeKind.TransientFailure)
        {
            if (circuit.EndRun())
            {
                LogCircuitClosed(_logger, accountId);
            }

            return;
        }

        if (_options.CircuitConsecutiveFailures > 0
            && circuit.Fail(_options.CircuitConsecutiveFailures, _time.GetUtcNow()))
        {
            LogCircuitOpened(_logger, accountId, _options.CircuitBreakDuration, outcome.ErrorCode);
        }
    }

    private bool HasConnector(ProviderAccount account) =>
        _connectors.TryGetValue(account.Kind, out var connector) && connector.Channel == account.Channel;

    private bool IsPassable(ProviderAccount account) =>
        !account.Isolated && (!_circuits.TryGetValue(account.Id, out var circuit)
            || circuit.State(_time.GetUtcNow()) is ProviderHealthState.Closed or ProviderHealthState.HalfOpen);

    private ProviderCircuit Circuit(ProviderAccount account) =>
        _circuits.GetOrAdd(account.Id, static (_, state) => state.self.Build(state.account), (self: this, account));

    private ProviderCircuit Build(ProviderAccount account)
    {
        var circuit = new ProviderCircuit(_options.CircuitBreakDuration);
        var accountId = account.Id;
        var builder = new ResiliencePipelineBuilder<SendOutcome>
        {
            Name = "herald-provider",
            InstanceName = accountId.ToString(),
            TimeProvider = _time,
        };

        builder.AddCircuitBreaker(new CircuitBreakerStrategyOptions<SendOutcome>
        {
            FailureRatio = _options.CircuitFailureRatio,
            MinimumThroughput = _options.CircuitMinimumThroughput,
            SamplingDuration = _options.CircuitSamplingDuration,
            BreakDuration = _options.CircuitBreakDuration,
            StateProvider = circuit.StateProvider,
            ManualControl = circuit.Control,
            // Only what says "this provider is in trouble" counts: transient outcomes, timeouts, connector bugs.
            // Permanent failures (bad recipient) are the provider working correctly.
            ShouldHandle = static args => new ValueTask<bool>(args.Outcome switch
            {
                { Exception: OperationCanceledException } => false,
                { Exception: not null } => true,
                { Result.Kind: SendOutcomeKind.TransientFailure } => true,
                _ => false,
            }),
            OnOpened = args =>
            {
                circuit.Opened(_time.GetUtcNow() + args.BreakDuration);
                LogCircuitOpened(_logger, accountId, args.BreakDuration, args.Outcome.Result?.ErrorCode ?? args.Outcome.Exception?.GetType().Name);
                return default;
            },
            OnHalfOpened = _ =>
            {
                LogCircuitHalfOpened(_logger, accountId);
                return default;
            },
            OnClosed = _ =>
            {
                LogCircuitClosed(_logger, accountId);
                return default;
            },
        });
        builder.AddTimeout(_options.SendTimeout);
        circuit.Pipeline = builder.Build();
        return circuit;
    }

    private sealed class ProviderCircuit(TimeSpan breakDuration)
    {
        private long _openUntilTicks;
        private int _run;
        // While a run of failures holds the circuit open: until when (UTC ticks); 0 when no run holds it.
        private long _runOpenUntilTicks;

        public CircuitBreakerStateProvider StateProvider { get; } = new();

        public CircuitBreakerManualControl Control { get; } = new();

        public ResiliencePipeline<SendOutcome> Pipeline { get; set; } = ResiliencePipeline<SendOutcome>.Empty;

        public void Opened(DateTimeOffset until) => Interlocked.Exchange(ref _openUntilTicks, until.UtcTicks);

        /// <summary>One more transient failure in the run; true when it opened the circuit (a run already holding it
        /// open is not reopened, so only the probe after a break extends it).</summary>
        public bool Fail(int threshold, DateTimeOffset now)
        {
            if (Interlocked.Increment(ref _run) < threshold)
            {
                return false;
            }

            return Interlocked.CompareExchange(ref _runOpenUntilTicks, (now + breakDuration).UtcTicks, 0) == 0;
        }

        /// <summary>Ends the run (a success, or a reset by hand); true when the run had opened the circuit.</summary>
        public bool EndRun()
        {
            Interlocked.Exchange(ref _run, 0);
            return Interlocked.Exchange(ref _runOpenUntilTicks, 0) != 0;
        }

        /// <summary>Whether a send may go through the run's hold: always without one; after the break, one caller at a
        /// time (the probe), which pushes the hold out by another break until its outcome ends or keeps the run.</summary>
        public bool TryPass(DateTimeOffset now)
        {
            var until = Interlocked.Read(ref _runOpenUntilTicks);
            if (until == 0)
            {
                return true;
            }

            return now.UtcTicks >= until
                && Interlocked.CompareExchange(ref _runOpenUntilTicks, (now + breakDuration).UtcTicks, until) == until;
        }

        /// <summary>
        /// The worse of Polly's ratio breaker and the run of failures. Polly moves Open to HalfOpen lazily, on the next
        /// execution after the break. Reporting Open until then would make the provider look unusable forever, so an
        /// elapsed break is reported as HalfOpen: the next send is the probe.
        /// </summary>
        public ProviderHealthState State(DateTimeOffset now)
        {
            var ratio = StateProvider.CircuitState switch
            {
                CircuitState.Closed => ProviderHealthState.Closed,
                CircuitState.HalfOpen => ProviderHealthState.HalfOpen,
                CircuitState.Isolated => ProviderHealthState.Isolated,
                _ => now.UtcTicks >= Interlocked.Read(ref _openUntilTicks) ? ProviderHealthState.HalfOpen : ProviderHealthState.Open,
            };
            var runUntil = Interlocked.Read(ref _runOpenUntilTicks);
            var run = runUntil == 0 ? ProviderHealthState.Closed
                : now.UtcTicks >= runUntil ? ProviderHealthState.HalfOpen
                : ProviderHealthState.Open;
            return (ProviderHealthState)Math.Max((int)ratio, (int)run);
        }
    }

    [LoggerMessage(EventId = 3200, Level = LogLevel.Warning, Message = "Circuit of provider account {AccountId} opened for {BreakDuration} (last failure {Reason})")]
    private static partial void LogCircuitOpened(ILogger logger, Guid accountId, TimeSpan breakDuration, string? reason);

    [LoggerMessage(EventId = 3201, Level = LogLevel.Information, Message = "Circuit of provider account {AccountId} half-open: probing")]
    private static partial void LogCircuitHalfOpened(ILogger logger, Guid accountId);

    [LoggerMessage(EventId = 3202, Level = LogLevel.Information, Message = "Circuit of provider account {AccountId} closed")]
    private static partial void LogCircuitClosed(ILogger logger, Guid accountId);

    [LoggerMessage(EventId = 3500, Level = LogLevel.Information, Message = "Provider account {AccountId} refused a send transiently ({Reason}); failing over to the next account")]
    private static partial void LogFailover(ILogger logger, Guid accountId, string? reason);

    [LoggerMessage(EventId = 3203, Level = LogLevel.Error, Message = "Connector {Kind} threw for provider account {AccountId}; connectors must map failures to outcomes")]
    private static partial void LogConnectorThrew(ILogger logger, Exception exception, string kind, Guid accountId);
}
