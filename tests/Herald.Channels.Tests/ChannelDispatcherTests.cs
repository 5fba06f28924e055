using Herald.Channels.Providers;
using Herald.Core.Delivery;
using Herald.Core.Notifications;
using Herald.Core.Providers;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace Herald.Channels.Tests;

public sealed class ChannelDispatcherTests : IAsyncLifetime
{
    private const string Kind = "scripted";
    private static readonly TimeSpan BreakDuration = TimeSpan.FromSeconds(15);

    private readonly InMemoryProviderStore _store = new();
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2025, 6, 1, 8, 0, 0, TimeSpan.Zero));
    private readonly ScriptedConnector _connector = new(Kind);
    private readonly Guid _tenant = Guid.NewGuid();
    private readonly ChannelsOptions _options = new()
    {
        SendTimeout = TimeSpan.FromSeconds(10),
        CircuitFailureRatio = 0.5,
        CircuitMinimumThroughput = 4,
        CircuitSamplingDuration = TimeSpan.FromSeconds(30),
        CircuitBreakDuration = BreakDuration,
    };

    private ProviderDirectory _directory = null!;
    private ChannelDispatcher _dispatcher = null!;
    private ProviderAccount _primary = null!;
    private ProviderAccount _standby = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        // Weight 0 makes the second account a standby: it only takes traffic when the primary's circuit is open,
        // which keeps the tests deterministic without replacing the default selector.
        _primary = await _store.CreateAsync(Account("primary", 1), Ct);
        _standby = await _store.CreateAsync(Account("standby", 0), Ct);
        _directory = new ProviderDirectory(_store, Options.Create(_options), _time, NullLogger<ProviderDirectory>.Instance);
        await _directory.InvalidateAsync(Ct);
        _dispatcher = new ChannelDispatcher(_directory, [_connector], new WeightedRandomProviderSelector(), Options.Create(_options), _time, NullLogger<ChannelDispatcher>.Instance);
    }

    public async ValueTask DisposeAsync() => await _directory.DisposeAsync();

    private ProviderAccount Account(string name, int weight) =>
        new(Guid.NewGuid(), _tenant, Channel.Sms, Kind, name, "{}", weight, true, DateTimeOffset.UnixEpoch);

    private Task<DispatchResult> SendAsync(CancellationToken? ct = null) =>
        _dispatcher.SendAsync(_tenant, Channel.Sms, TestHost.Message("+4915112345678"), ct ?? Ct);

    private async Task OpenPrimaryAsync()
    {
        _connector.Script(_primary, static () => SendOutcome.Transient("503", "Service Unavailable"));
        for (var i = 0; i < _options.CircuitMinimumThroughput; i++)
        {
            // The primary refuses, the send fails over to the standby within the same call.
            var result = await SendAsync();
            Assert.Equal(_primary.Id, Assert.Single(result.Failovers).Provider.Id);
        }

        Assert.Equal(ProviderHealthState.Open, _dispatcher.GetState(_primary.Id));
    }

    [Fact]
    public async Task SendAsync_HealthyPrimary_GoesToWeightedAccountAndReturnsItsOutcome()
    {
        var result = await SendAsync();

        Assert.Equal(_primary, result.Provider);
        Assert.Equal(SendOutcomeKind.Accepted, result.Outcome.Kind);
        Assert.Equal($"{_primary.Name}-1", result.Outcome.ProviderMessageId);
        Assert.True(_dispatcher.IsUsable(_tenant, Channel.Sms));
    }

    [Fact]
    public async Task SendAsync_RepeatedTransientFailures_OpenCircuitAndTrafficMovesToSecondProvider()
    {
        await OpenPrimaryAsync();

        var result = await SendAsync();

        Assert.Equal(_standby, result.Provider);
        Assert.Equal(SendOutcomeKind.Accepted, result.Outcome.Kind);
        Assert.Equal(4, _connector.Calls(_primary));
        Assert.True(_dispatcher.IsUsable(_tenant, Channel.Sms));
    }

    [Fact]
    public async Task IsUsable_EveryProviderOpen_IsFalseAndSendReportsNoHealthyProvider()
    {
        _connector.Script(_standby, static () => SendOutcome.Transient("503", "Service Unavailable"));
        // Each send tries the primary, then fails over to the standby, which refuses too: both circuits open.
        await OpenPrimaryAsync();

        Assert.False(_dispatcher.IsUsable(_tenant, Channel.Sms));
        var result = await SendAsync();
        Assert.Null(result.Provider);
        Assert.Equal(SendOutcomeKind.TransientFailure, result.Outcome.Kind);
        Assert.Equal("no_healthy_provider", result.Outcome.ErrorCode);
        Assert.Contains(_dispatcher.GetHealth(), h => h.AccountId == _primary.Id && h.State == ProviderHealthState.Open);
    }

    [Fact]
    public async Task SendAsync_AfterBreak_HalfOpenProbeSucceedsAndClosesCircuit()
    {
        await OpenPrimaryAsync();
        _connector.Script(_primary, null);

        _time.Advance(BreakDuration);

        Assert.Equal(ProviderHealthState.HalfOpen, _dispatcher.GetState(_primary.Id));
        var probe = await SendAsync();
        Assert.Equal(_primary, probe.Provider);
        Assert.Equal(SendOutcomeKind.Accepted, probe.Outcome.Kind);
        Assert.Equal(ProviderHealthState.Closed, _dispatcher.GetState(_primary.Id));
        Assert.Equal(_primary, (await SendAsync()).Provider);
    }

    [Fact]
    public async Task SendAsync_AfterBreak_FailedProbeReopensCircuit()
    {
        await OpenPrimaryAsync();
        _time.Advance(BreakDuration);

        var probe = await SendAsync();

        // The probe failed on the primary (reopening it) and the send failed over to the standby.
        Assert.Equal(_primary, Assert.Single(probe.Failovers).Provider);
        Assert.Equal(SendOutcomeKind.TransientFailure, probe.Failovers[0].Outcome.Kind);
        Assert.Equal(_standby, probe.Provider);
        Assert.Equal(SendOutcomeKind.Accepted, probe.Outcome.Kind);
        Assert.Equal(ProviderHealthState.Open, _dispatcher.GetState(_primary.Id));
        Assert.Equal(_standby, (await SendAsync()).Provider);
    }

    [Fact]
    public async Task SendAsync_PermanentFailures_DoNotOpenCircuit()
    {
        _connector.Script(_primary, static () => SendOutcome.Permanent("21211", "invalid 'To' phone number"));

        for (var i = 0; i < _options.CircuitMinimumThroughput * 3; i++)
        {
            var result = await SendAsync();
            Assert.Equal(_primary, result.Provider);
            Assert.Equal(SendOutcomeKind.PermanentFailure, result.Outcome.Kind);
        }

        Assert.Equal(ProviderHealthState.Closed, _dispatcher.GetState(_primary.Id));
    }

    [Fact]
    public async Task SendAsync_ProviderHangs_TimesOutAsTransientAndCountsForBreaker()
    {
        var started = _connector.Hang(_primary);

        var send = SendAsync();
        await started.Task.WaitAsync(TestHost.Deadline, Ct);
        _time.Advance(_options.SendTimeout);
        var result = await send.WaitAsync(TestHost.Deadline, Ct);

        Assert.Equal(_primary, result.Provider);
        Assert.Equal(SendOutcomeKind.TransientFailure, result.Outcome.Kind);
        Assert.Equal("timeout", result.Outcome.ErrorCode);
    }

    [Fact]
    public async Task SendAsync_CallerCancels_CancellationPropagatesAndCircuitStaysClosed()
    {
        var started = _connector.Hang(_primary);
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(Ct);

        var send = SendAsync(cts.Token);
        await started.Task.WaitAsync(TestHost.Deadline, Ct);
        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => send);
        Assert.Equal(ProviderHealthState.Closed, _dispatcher.GetState(_primary.Id));
    }

    [Fact]
    public async Task SendAsync_ConnectorThrows_IsTransientConnectorError()
    {
        _connector.Script(_primary, static () => throw new InvalidOperationException("bug"));

        var result = await SendAsync();

        Assert.Equal(_primary, result.Provider);
        Assert.Equal("connector_error", result.Outcome.ErrorCode);
    }

    [Fact]
    public async Task SendAsync_ChannelWithoutProviders_IsNoHealthyProvider()
    {
        Assert.False(_dispatcher.IsUsable(_tenant, Channel.Push));

        var result = await _dispatcher.SendAsync(_tenant, Channel.Push, TestHost.Message("token"), Ct);

        Assert.Null(result.Provider);
        Assert.Equal("no_healthy_provider", result.Outcome.ErrorCode);
    }

    [Fact]
    public async Task SendAsync_AccountOfUnknownKind_IsNotUsed()
    {
        var tenant = Guid.NewGuid();
        await _store.CreateAsync(new ProviderAccount(Guid.NewGuid(), tenant, Channel.Email, "smtp-relay", "smtp", "{}", 1, true, DateTimeOffset.UnixEpoch), Ct);
        await _directory.InvalidateAsync(Ct);

        Assert.False(_dispatcher.IsUsable(tenant, Channel.Email));
        Assert.Equal("no_healthy_provider", (await _dispatcher.SendAsync(tenant, Channel.Email, TestHost.Message("a@b.test"), Ct)).Outcome.ErrorCode);
    }

    [Fact]
    public void Pick_WeightedAccounts_FollowsWeightsAndSkipsStandbys()
    {
        var selector = new WeightedRandomProviderSelector();
        ProviderAccount[] candidates = [Account("a", 3), Account("b", 1), Account("standby", 0)];
        var counts = new int[3];

        for (var i = 0; i < 4000; i++)
        {
            counts[selector.Pick(Choice(), candidates)]++;
        }

        Assert.Equal(0, counts[2]);
        Assert.InRange(counts[0], 2700, 3300);
        Assert.Equal(0, selector.Pick(Choice(), [candidates[2]]));
    }

    private ProviderChoice Choice() => new(_tenant, Channel.Sms, TestHost.Message("x"), Herald.Core.Routing.CostPolicy.Preferred, null, new ProviderLatency());
}
