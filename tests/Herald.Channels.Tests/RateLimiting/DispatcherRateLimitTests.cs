using Herald.Channels.Providers;
using Herald.Channels.Providers.RateLimiting;
using Herald.Core.Delivery;
using Herald.Core.Notifications;
using Herald.Core.Providers;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace Herald.Channels.Tests.RateLimiting;

/// <summary>The dispatcher asks for a permit before each send through a rate-limited account.</summary>
public sealed class DispatcherRateLimitTests : IAsyncLifetime
{
    private readonly InMemoryProviderStore _store = new();
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 6, 1, 8, 0, 0, TimeSpan.Zero));
    private readonly CountingConnector _connector = new();
    private readonly ScriptedLimiter _limiter = new();
    private readonly Guid _tenant = Guid.NewGuid();
    private readonly ChannelsOptions _options = new() { CircuitMinimumThroughput = 2, CircuitFailureRatio = 0.5 };
    private ProviderDirectory _directory = null!;
    private ChannelDispatcher _dispatcher = null!;
    private ProviderAccount _limited = null!;
    private ProviderAccount _standby = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        _limited = await _store.CreateAsync(Account("limited", 1, 50), Ct);
        _standby = await _store.CreateAsync(Account("standby", 0, 20), Ct);
        _directory = new ProviderDirectory(_store, Options.Create(_options), _time, NullLogger<ProviderDirectory>.Instance);
        await _directory.InvalidateAsync(Ct);
        _dispatcher = new ChannelDispatcher(_directory, [_connector], new WeightedRandomProviderSelector(), Options.Create(_options), _time,
            NullLogger<ChannelDispatcher>.Instance, _limiter);
    }

    public async ValueTask DisposeAsync() => await _directory.DisposeAsync();

    private ProviderAccount Account(string name, int weight, double? rate) =>
        new(Guid.NewGuid(), _tenant, Channel.Sms, CountingConnector.ConnectorKind, name, "{}", weight, true, DateTimeOffset.UnixEpoch) { RatePerSecond = rate };

    private Task<DispatchResult> SendAsync(Priority priority = Priority.Normal) =>
        _dispatcher.SendAsync(_tenant, Channel.Sms, TestHost.Message("+4915112345678") with { Priority = priority }, Ct);

    [Fact]
    public async Task SendAsync_PermitGranted_SendsAndPassesThePriority()
    {
        var result = await SendAsync(Priority.Critical);

        Assert.Equal(_limited.Id, result.Provider?.Id);
        Assert.Equal(SendOutcomeKind.Accepted, result.Outcome.Kind);
        Assert.Equal([(_limited.Id, Priority.Critical)], _limiter.Asked);
    }

    [Fact]
    public async Task SendAsync_FirstAccountHasNoSlot_GoesToTheNextAccount()
    {
        _limiter.Deny(_limited, TimeSpan.FromMilliseconds(300));

        var result = await SendAsync();

        Assert.Equal(_standby.Id, result.Provider?.Id);
        Assert.Equal(SendOutcomeKind.Accepted, result.Outcome.Kind);
        Assert.Equal(0, _connector.Calls(_limited));
    }

    [Fact]
    public async Task SendAsync_NoAccountHasASlot_IsRateLimitedWithTheEarliestRetryAfter_AndNeverOpensTheCircuit()
    {
        _limiter.Deny(_limited, TimeSpan.FromMilliseconds(300));
        _limiter.Deny(_standby, TimeSpan.FromMilliseconds(120));

        for (var i = 0; i < 50; i++)
        {
            var result = await SendAsync();
            Assert.Equal(_standby.Id, result.Provider?.Id);
            Assert.True(result.Outcome.IsRateLimited);
            Assert.Equal(TimeSpan.FromMilliseconds(120), result.Outcome.RetryAfter);
        }

        Assert.Equal(0, _connector.Calls(_limited) + _connector.Calls(_standby));
        Assert.Equal(ProviderHealthState.Closed, _dispatcher.GetState(_limited.Id));
        Assert.Equal(ProviderHealthState.Closed, _dispatcher.GetState(_standby.Id));
        Assert.True(_dispatcher.IsUsable(_tenant, Channel.Sms));
    }

    [Fact]
    public async Task SendAsync_LimitedAccount_HandsTheConnectorAPermitForEachFurtherPart_AtTheSendsPriority()
    {
        _connector.PartsAfterTheFirst = 2;

        var result = await SendAsync(Priority.High);

        Assert.Equal(SendOutcomeKind.Accepted, result.Outcome.Kind);
        // One permit for the send, then one per further part (a long SMS is one submit_sm per part).
        Assert.Equal([(_limited.Id, Priority.High), (_limited.Id, Priority.High), (_limited.Id, Priority.High)], _limiter.Asked);
        Assert.Equal([null, null], _connector.PartPermits);

        _limiter.Asked.Clear();
        _limiter.DenyAfter(_limited, granted: 1, TimeSpan.FromMilliseconds(80));
        await SendAsync();
        Assert.Equal([TimeSpan.FromMilliseconds(80), TimeSpan.FromMilliseconds(80)], _connector.PartPermits.TakeLast(2));
    }

    [Fact]
    public async Task SendAsync_AccountWithoutRate_IsNotAskedAbout()
    {
        var free = await _store.CreateAsync(Account("free", 0, null), Ct);
        await _directory.InvalidateAsync(Ct);
        _limiter.Deny(_limited, TimeSpan.FromSeconds(1));
        _limiter.Deny(_standby, TimeSpan.FromSeconds(1));

        var result = await SendAsync();

        Assert.Equal(free.Id, result.Provider?.Id);
        Assert.DoesNotContain(_limiter.Asked, a => a.Account == free.Id);
    }

    private sealed class ScriptedLimiter : IProviderRateLimiter
    {
        private readonly Dictionary<Guid, TimeSpan> _denied = [];

        public List<(Guid Account, Priority Priority)> Asked { get; } = [];

        private readonly Dictionary<Guid, int> _grantsLeft = [];

        public void Deny(ProviderAccount account, TimeSpan retryAfter) => _denied[account.Id] = retryAfter;

        /// <summary>Grants <paramref name="granted"/> more permits of the account, then denies.</summary>
        public void DenyAfter(ProviderAccount account, int granted, TimeSpan retryAfter)
        {
            _grantsLeft[account.Id] = granted;
            _denied[account.Id] = retryAfter;
        }

        public ValueTask<RatePermit> AcquireAsync(ProviderAccount account, Priority priority, CancellationToken ct)
        {
            Asked.Add((account.Id, priority));
            if (_grantsLeft.TryGetValue(account.Id, out var left) && left > 0)
            {
                _grantsLeft[account.Id] = left - 1;
                return ValueTask.FromResult(new RatePermit(true, TimeSpan.Zero, TimeSpan.Zero, RateLimitMode.Shared));
            }

            return ValueTask.FromResult(_denied.TryGetValue(account.Id, out var retryAfter)
                ? new RatePermit(false, TimeSpan.Zero, retryAfter, RateLimitMode.Shared)
                : new RatePermit(true, TimeSpan.Zero, TimeSpan.Zero, RateLimitMode.Shared));
        }
    }

    private sealed class CountingConnector : IChannelConnector
    {
        public const string ConnectorKind = "counting";
        private readonly Dictionary<Guid, int> _calls = [];

        public string Kind => ConnectorKind;

        public Channel Channel => Channel.Sms;

        public int Calls(ProviderAccount account) => _calls.GetValueOrDefault(account.Id);

        /// <summary>Further provider requests this connector makes per message (as SMPP does per part).</summary>
        public int PartsAfterTheFirst { get; set; }

        /// <summary>What <see cref="OutboundMessage.NextPartPermit"/> answered, in order.</summary>
        public List<TimeSpan?> PartPermits { get; } = [];

        public async Task<SendOutcome> SendAsync(OutboundMessage message, ProviderAccount account, CancellationToken ct)
        {
            _calls[account.Id] = Calls(account) + 1;
            for (var i = 0; i < PartsAfterTheFirst && message.NextPartPermit is { } permit; i++)
            {
                PartPermits.Add(await permit(ct));
            }

            return new SendOutcome(SendOutcomeKind.Accepted, ProviderMessageId: Guid.NewGuid().ToString());
        }
    }
}
