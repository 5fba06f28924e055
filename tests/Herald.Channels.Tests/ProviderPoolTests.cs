using System.Text.Json;
using System.Text.Json.Nodes;
using Herald.Channels.Providers;
using Herald.Core.Delivery;
using Herald.Core.Notifications;
using Herald.Core.Providers;
using Herald.Core.Routing;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace Herald.Channels.Tests;

/// <summary>Pools of provider accounts: pricing, cost policies, failover, manual isolation and connector definitions.</summary>
public sealed class ProviderPoolTests : IAsyncLifetime
{
    private const string Kind = "pool-scripted";
    private const string German = "+4915112345678";

    private readonly InMemoryProviderStore _store = new();
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2025, 6, 1, 8, 0, 0, TimeSpan.Zero));
    private readonly ScriptedConnector _connector = new(Kind);
    private readonly Guid _tenant = Guid.NewGuid();
    private readonly ChannelsOptions _options = new()
    {
        SendTimeout = TimeSpan.FromSeconds(10),
        CircuitFailureRatio = 0.5,
        CircuitMinimumThroughput = 2,
        CircuitSamplingDuration = TimeSpan.FromSeconds(30),
        CircuitBreakDuration = TimeSpan.FromSeconds(15),
    };

    private ProviderDirectory _directory = null!;
    private ChannelDispatcher _dispatcher = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public ValueTask InitializeAsync()
    {
        _directory = new ProviderDirectory(_store, Options.Create(_options), _time, NullLogger<ProviderDirectory>.Instance);
        _dispatcher = new ChannelDispatcher(_directory, [_connector], new CostPolicyProviderSelector(), Options.Create(_options), _time, NullLogger<ChannelDispatcher>.Instance);
        return ValueTask.CompletedTask;
    }

    public async ValueTask DisposeAsync() => await _directory.DisposeAsync();

    // ---- pricing ----

    [Theory]
    [InlineData(Channel.Sms, German, "DE")]
    [InlineData(Channel.WhatsApp, "+447700900123", "GB")]
    [InlineData(Channel.Sms, "+14155550123", "US")]
    [InlineData(Channel.Sms, "+447000000000", "GB")] // not a valid UK number: priced by its country code
    [InlineData(Channel.Sms, "not a number", null)]
    [InlineData(Channel.Email, "a@b.test", null)]
    [InlineData(Channel.Telegram, "4915112345678", null)]
    public void DestinationCountry_FromE164ForPhoneChannels(Channel channel, string to, string? expected) =>
        Assert.Equal(expected, Pricing.DestinationCountry(channel, to));

    [Theory]
    [InlineData(0, 'a', 1)]
    [InlineData(160, 'a', 1)]
    [InlineData(161, 'a', 2)]
    [InlineData(306, 'a', 2)]
    [InlineData(307, 'a', 3)]
    [InlineData(80, '€', 1)] // extension characters take two septets: 160
    [InlineData(81, '€', 2)]
    [InlineData(70, 'Ж', 1)]
    [InlineData(71, 'Ж', 2)]
    [InlineData(134, 'Ж', 2)]
    [InlineData(135, 'Ж', 3)]
    public void SmsSegments_GsmAndUcs2Limits(int length, char c, int expected) =>
        Assert.Equal(expected, SmsSegments.Count(new string(c, length)));

    [Fact]
    public void SmsSegments_OneNonGsmCharacterMakesTheWholeTextUcs2() =>
        Assert.Equal(2, SmsSegments.Count(new string('a', 100) + "😀"));

    [Fact]
    public void PriceTable_CountryEntryElseDefaultElseNone()
    {
        var table = new PriceTable("EUR", new Dictionary<string, decimal> { ["*"] = 0.05m, ["DE"] = 0.07m });
        Assert.Equal(0.07m, table.PriceFor("DE"));
        Assert.Equal(0.05m, table.PriceFor("FR"));
        Assert.Equal(0.05m, table.PriceFor(null));
        Assert.Null(new PriceTable("EUR", new Dictionary<string, decimal> { ["DE"] = 0.07m }).PriceFor("FR"));
    }

    // ---- selectors ----

    [Fact]
    public void Cheapest_PicksLowestPriceForCountry_DefaultElsewhere_UnpricedLast_StandbyExcluded()
    {
        var selector = new CostPolicyProviderSelector();
        var cheapInDe = Account("cheap-de", 1, Prices(("*", 0.09m), ("DE", 0.01m)));
        var flat = Account("flat", 1, Prices(("*", 0.05m)));
        var unpriced = Account("unpriced", 1, null);
        var standby = Account("standby", 0, Prices(("*", 0.001m)));
        ProviderAccount[] pool = [unpriced, flat, cheapInDe, standby];

        Assert.Equal(2, selector.Pick(Choice(CostPolicy.Cheapest, "DE"), pool));
        Assert.Equal(1, selector.Pick(Choice(CostPolicy.Cheapest, "FR"), pool));
        Assert.Equal(1, selector.Pick(Choice(CostPolicy.Cheapest, null), pool));
        Assert.Equal(0, selector.Pick(Choice(CostPolicy.Cheapest, "DE"), [unpriced, standby]));
        // Only standbys left: the cheapest of them.
        Assert.Equal(1, selector.Pick(Choice(CostPolicy.Cheapest, "DE"), [Account("s1", 0, Prices(("*", 0.2m))), standby]));
    }

    [Fact]
    public void Cheapest_TiesGoToHigherWeightThenOlderAccount()
    {
        var selector = new CostPolicyProviderSelector();
        var light = Account("light", 1, Prices(("*", 0.05m)));
        var heavy = Account("heavy", 5, Prices(("*", 0.05m)));
        var heavyToo = Account("heavy-too", 5, Prices(("*", 0.05m)));

        Assert.Equal(1, selector.Pick(Choice(CostPolicy.Cheapest, "DE"), [light, heavy, heavyToo]));
    }

    [Fact]
    public void Fastest_PicksLowestEwma_UnmeasuredFirst()
    {
        var selector = new CostPolicyProviderSelector();
        var slow = Account("slow", 1, null);
        var quick = Account("quick", 1, null);
        var latency = new ProviderLatency();
        latency.Record(slow.Id, TimeSpan.FromMilliseconds(300));
        latency.Record(quick.Id, TimeSpan.FromMilliseconds(40));

        Assert.Equal(1, selector.Pick(Choice(CostPolicy.Fastest, null, latency), [slow, quick]));
        Assert.Equal(2, selector.Pick(Choice(CostPolicy.Fastest, null, latency), [slow, quick, Account("new", 1, null)]));

        // The average follows: after enough slow answers the quick one is no longer quickest.
        for (var i = 0; i < 30; i++)
        {
            latency.Record(quick.Id, TimeSpan.FromMilliseconds(900));
        }

        Assert.Equal(0, selector.Pick(Choice(CostPolicy.Fastest, null, latency), [slow, quick]));
    }

    [Fact]
    public void ProviderLatency_IsAnExponentialMovingAverage()
    {
        var latency = new ProviderLatency();
        var id = Guid.NewGuid();
        Assert.Null(latency.Get(id));
        latency.Record(id, TimeSpan.FromMilliseconds(100));
        latency.Record(id, TimeSpan.FromMilliseconds(200));
        Assert.Equal(100 + (ProviderLatency.Alpha * 100), latency.Get(id)!.Value, 6);
    }

    // ---- dispatcher: failover, cost, policy, isolation ----

    [Fact]
    public async Task SendAsync_EveryAccountRefuses_EachTriedExactlyOnce_WithItsOwnAttemptId()
    {
        var a = await AddAsync("a", 1);
        var b = await AddAsync("b", 1);
        var c = await AddAsync("c", 1);
        foreach (var account in new[] { a, b, c })
        {
            _connector.Script(account, static () => SendOutcome.Transient("503", "Service Unavailable"));
        }

        var message = TestHost.Message(German);
        var result = await _dispatcher.SendAsync(_tenant, Channel.Sms, message, CostPolicy.Preferred, Ct);

        Assert.Equal(SendOutcomeKind.TransientFailure, result.Outcome.Kind);
        Assert.Equal(2, result.Failovers.Count);
        Assert.Equal(1, _connector.Calls(a));
        Assert.Equal(1, _connector.Calls(b));
        Assert.Equal(1, _connector.Calls(c));
        var tried = result.Failovers.Select(f => f.Provider.Id).Append(result.Provider!.Id).ToArray();
        Assert.Equal(3, tried.Distinct().Count());
        var ids = result.Failovers.Select(f => f.AttemptId).Append(result.AttemptId!.Value).ToArray();
        Assert.Equal(message.AttemptId, ids[0]);
        Assert.Equal(3, ids.Distinct().Count());
        // The connector saw each try's own attempt id.
        Assert.Equal(ids.Order(), _connector.AttemptIds.Order());
        Assert.All(result.Failovers, f => Assert.Null(f.Outcome.Cost));
    }

    [Fact]
    public async Task SendAsync_RefusedThenAccepted_AnswerIsTheSecondAccount_RefusalIsAFailover()
    {
        var first = await AddAsync("first", 100);
        var second = await AddAsync("second", 0);
        _connector.Script(first, static () => SendOutcome.Transient("429", "Too Many Requests", TimeSpan.FromSeconds(1)));

        var result = await _dispatcher.SendAsync(_tenant, Channel.Sms, TestHost.Message(German), null, Ct);

        Assert.Equal(second.Id, result.Provider!.Id);
        Assert.Equal(SendOutcomeKind.Accepted, result.Outcome.Kind);
        var failover = Assert.Single(result.Failovers);
        Assert.Equal(first.Id, failover.Provider.Id);
        Assert.Equal("429", failover.Outcome.ErrorCode);
    }

    [Fact]
    public async Task SendAsync_PermanentFailureOrTimeout_IsNotFailedOver()
    {
        var first = await AddAsync("first", 100);
        var second = await AddAsync("second", 0);
        _connector.Script(first, static () => SendOutcome.Permanent("21211", "invalid number"));

        var permanent = await _dispatcher.SendAsync(_tenant, Channel.Sms, TestHost.Message(German), null, Ct);
        Assert.Equal(first.Id, permanent.Provider!.Id);
        Assert.Empty(permanent.Failovers);

        var started = _connector.Hang(first);
        var send = _dispatcher.SendAsync(_tenant, Channel.Sms, TestHost.Message(German), null, Ct);
        await started.Task.WaitAsync(TestHost.Deadline, Ct);
        _time.Advance(_options.SendTimeout);
        var timedOut = await send.WaitAsync(TestHost.Deadline, Ct);

        Assert.Equal("timeout", timedOut.Outcome.ErrorCode);
        Assert.Equal(first.Id, timedOut.Provider!.Id);
        Assert.Empty(timedOut.Failovers);
        Assert.Equal(0, _connector.Calls(second));
    }

    [Fact]
    public async Task SendAsync_PartialSend_IsNotFailedOver()
    {
        var first = await AddAsync("first", 100);
        var second = await AddAsync("second", 0);
        // The first parts of a long SMS reached the provider: another account would send the whole text again.
        _connector.Script(first, static () => SendOutcome.Transient(SendOutcome.PartialSendCode, "part 2 of 3 (ESME_RTHROTTLED): throttled"));

        var partial = await _dispatcher.SendAsync(_tenant, Channel.Sms, TestHost.Message(German), null, Ct);

        Assert.Equal((first.Id, SendOutcome.PartialSendCode), (partial.Provider!.Id, partial.Outcome.ErrorCode));
        Assert.Empty(partial.Failovers);
        Assert.Equal(0, _connector.Calls(second));
    }

    [Fact]
    public async Task SendAsync_Accepted_CostIsPriceForCountryTimesSegments_ConnectorCostWins()
    {
        var account = await AddAsync("priced", 1, Prices(("*", 0.05m), ("DE", 0.07m)));

        var short1 = await _dispatcher.SendAsync(_tenant, Channel.Sms, TestHost.Message(German, "hello"), null, Ct);
        Assert.Equal(0.07m, short1.Outcome.Cost);

        var longText = await _dispatcher.SendAsync(_tenant, Channel.Sms, TestHost.Message("+33612345678", new string('x', 161)), null, Ct);
        Assert.Equal(0.10m, longText.Outcome.Cost);

        _connector.Script(account, static () => new SendOutcome(SendOutcomeKind.Accepted, "SM1", Cost: 0.0123m));
        Assert.Equal(0.0123m, (await _dispatcher.SendAsync(_tenant, Channel.Sms, TestHost.Message(German), null, Ct)).Outcome.Cost);

        _connector.Script(account, static () => SendOutcome.Permanent("21211", "invalid number"));
        Assert.Null((await _dispatcher.SendAsync(_tenant, Channel.Sms, TestHost.Message(German), null, Ct)).Outcome.Cost);
    }

    [Fact]
    public async Task SendAsync_Cheapest_CheaperAccountTakesSends_OtherWhenItsCircuitIsOpen()
    {
        var dear = await AddAsync("dear", 1, Prices(("*", 0.09m)));
        var cheap = await AddAsync("cheap", 1, Prices(("*", 0.02m)));

        for (var i = 0; i < 10; i++)
        {
            Assert.Equal(cheap.Id, (await _dispatcher.SendAsync(_tenant, Channel.Sms, TestHost.Message(German), CostPolicy.Cheapest, Ct)).Provider!.Id);
        }

        _connector.Script(cheap, static () => SendOutcome.Transient("503", "down"));
        // Ten successes are in the sampling window: ten failures more reach the failure ratio.
        for (var i = 0; i < 10; i++)
        {
            var failedOver = await _dispatcher.SendAsync(_tenant, Channel.Sms, TestHost.Message(German), CostPolicy.Cheapest, Ct);
            Assert.Equal(dear.Id, failedOver.Provider!.Id);
            Assert.Equal(0.09m, failedOver.Outcome.Cost);
        }

        Assert.Equal(ProviderHealthState.Open, _dispatcher.GetState(cheap.Id));
        var calls = _connector.Calls(cheap);
        Assert.Equal(dear.Id, (await _dispatcher.SendAsync(_tenant, Channel.Sms, TestHost.Message(German), CostPolicy.Cheapest, Ct)).Provider!.Id);
        Assert.Equal(calls, _connector.Calls(cheap));
    }

    [Fact]
    public async Task SendAsync_DefaultCostPolicyFromOptions_AppliesWhenRouteHasNone()
    {
        _options.DefaultCostPolicy = CostPolicy.Cheapest;
        await AddAsync("dear", 100, Prices(("*", 0.09m)));
        var cheap = await AddAsync("cheap", 1, Prices(("*", 0.02m)));

        for (var i = 0; i < 10; i++)
        {
            Assert.Equal(cheap.Id, (await _dispatcher.SendAsync(_tenant, Channel.Sms, TestHost.Message(German), null, Ct)).Provider!.Id);
        }
    }

    [Fact]
    public async Task Isolated_AccountIsNotUsedAndReportsIsolated_ResetClosesAnOpenCircuit()
    {
        var main = await AddAsync("main", 100);
        var other = await AddAsync("other", 0);
        _store.Replace(main with { Isolated = true });
        await _directory.InvalidateAsync(Ct);

        Assert.Equal(ProviderHealthState.Isolated, _dispatcher.GetState(main.Id));
        Assert.Equal(other.Id, (await _dispatcher.SendAsync(_tenant, Channel.Sms, TestHost.Message(German), null, Ct)).Provider!.Id);
        Assert.Equal(0, _connector.Calls(main));

        _store.Replace(main);
        await _directory.InvalidateAsync(Ct);
        _connector.Script(main, static () => SendOutcome.Transient("503", "down"));
        for (var i = 0; i < _options.CircuitMinimumThroughput; i++)
        {
            await _dispatcher.SendAsync(_tenant, Channel.Sms, TestHost.Message(German), null, Ct);
        }

        Assert.Equal(ProviderHealthState.Open, _dispatcher.GetState(main.Id));
        _connector.Script(main, null);

        Assert.True(await _dispatcher.ResetAsync(main.Id));

        Assert.Equal(ProviderHealthState.Closed, _dispatcher.GetState(main.Id));
        Assert.Equal(main.Id, (await _dispatcher.SendAsync(_tenant, Channel.Sms, TestHost.Message(German), null, Ct)).Provider!.Id);
        Assert.False(await _dispatcher.ResetAsync(Guid.NewGuid()));
    }

    [Fact]
    public async Task ProviderDyingAfterABusyHealthyPeriod_OpensAfterItsRunOfFailures_NotOnlyOnceOldSuccessesAgeOut()
    {
        // The ratio breaker alone: 40 recent successes outweigh 10 failures (20 %), so the circuit stayed closed and every
        // send paid a failed try first until the successes left the window (the chaos suite's provider outage, issue #14).
        _options.CircuitConsecutiveFailures = 10;
        var main = await AddAsync("main", 100);
        var standby = await AddAsync("standby", 0);
        for (var i = 0; i < 40; i++)
        {
            Assert.Equal(main.Id, (await _dispatcher.SendAsync(_tenant, Channel.Sms, TestHost.Message(German), null, Ct)).Provider!.Id);
        }

        _connector.Script(main, static () => SendOutcome.Transient("network", "connection refused"));
        for (var i = 0; i < 9; i++)
        {
            Assert.Equal(standby.Id, (await _dispatcher.SendAsync(_tenant, Channel.Sms, TestHost.Message(German), null, Ct)).Provider!.Id);
            Assert.Equal(ProviderHealthState.Closed, _dispatcher.GetState(main.Id));
        }

        await _dispatcher.SendAsync(_tenant, Channel.Sms, TestHost.Message(German), null, Ct);
        Assert.Equal(ProviderHealthState.Open, _dispatcher.GetState(main.Id));
        var triedWhileDown = _connector.Calls(main);
        await _dispatcher.SendAsync(_tenant, Channel.Sms, TestHost.Message(German), null, Ct);
        Assert.Equal(triedWhileDown, _connector.Calls(main));

        // After the break one probe goes through: a failure keeps it open, a success closes it.
        _time.Advance(_options.CircuitBreakDuration);
        Assert.Equal(ProviderHealthState.HalfOpen, _dispatcher.GetState(main.Id));
        await _dispatcher.SendAsync(_tenant, Channel.Sms, TestHost.Message(German), null, Ct);
        Assert.Equal(triedWhileDown + 1, _connector.Calls(main));
        Assert.Equal(ProviderHealthState.Open, _dispatcher.GetState(main.Id));

        _connector.Script(main, null);
        _time.Advance(_options.CircuitBreakDuration);
        Assert.Equal(main.Id, (await _dispatcher.SendAsync(_tenant, Channel.Sms, TestHost.Message(German), null, Ct)).Provider!.Id);
        Assert.Equal(ProviderHealthState.Closed, _dispatcher.GetState(main.Id));
    }

    [Fact]
    public async Task RatioAlone_AfterABusyHealthyPeriod_StaysClosedThroughARunOfFailures()
    {
        // What the run-of-failures trigger is for: with it off, Polly's ratio over the window stays below 50 %.
        _options.CircuitConsecutiveFailures = 0;
        var main = await AddAsync("main", 100);
        await AddAsync("standby", 0);
        for (var i = 0; i < 40; i++)
        {
            await _dispatcher.SendAsync(_tenant, Channel.Sms, TestHost.Message(German), null, Ct);
        }

        _connector.Script(main, static () => SendOutcome.Transient("network", "connection refused"));
        for (var i = 0; i < 30; i++)
        {
            await _dispatcher.SendAsync(_tenant, Channel.Sms, TestHost.Message(German), null, Ct);
        }

        Assert.Equal(ProviderHealthState.Closed, _dispatcher.GetState(main.Id));
        Assert.Equal(70, _connector.Calls(main));
    }

    [Fact]
    public async Task RunOfFailures_EndedBySuccessesBetween_DoesNotOpen()
    {
        _options.CircuitConsecutiveFailures = 3;
        _options.CircuitMinimumThroughput = 1_000;   // the ratio breaker stays out of this
        var main = await AddAsync("main", 100);
        await AddAsync("standby", 0);
        var flip = 0;
        _connector.Script(main, () => Interlocked.Increment(ref flip) % 3 == 0 ? new SendOutcome(SendOutcomeKind.Accepted, ProviderMessageId: "ok") : SendOutcome.Transient("503", "busy"));
        for (var i = 0; i < 30; i++)
        {
            await _dispatcher.SendAsync(_tenant, Channel.Sms, TestHost.Message(German), null, Ct);
        }

        Assert.Equal(ProviderHealthState.Closed, _dispatcher.GetState(main.Id));
        Assert.Equal(30, _connector.Calls(main));
    }

    [Fact]
    public async Task ProviderMessageId_TheFarEndChose_IsStorableAndCapped()
    {
        // Attempts of many tenants are stored in one statement: one tenant's provider answering a NUL must not fail them.
        var main = await AddAsync("main", 100);
        _connector.Script(main, static () => new SendOutcome(SendOutcomeKind.Accepted, ProviderMessageId: "wamid.\0x\ud800" + new string('a', 1_000)));
        var id = (await _dispatcher.SendAsync(_tenant, Channel.Sms, TestHost.Message(German), null, Ct)).Outcome.ProviderMessageId!;

        Assert.Equal(ProviderMessageIds.MaxLength, id.Length);
        Assert.StartsWith("wamid.?x?aaa", id, StringComparison.Ordinal);
        Assert.Equal("projects/p/messages/0:1%2", ProviderMessageIds.Storable("projects/p/messages/0:1%2"));
        Assert.Equal("<a@b> 😀", ProviderMessageIds.Storable("<a@b> 😀"));
    }

    // ---- connector definitions ----

    [Fact]
    public void Validate_MissingRequiredAndUnusableSettings_AreLocated()
    {
        using var missing = JsonDocument.Parse("""{"baseUrl":"https://graph.example"}""");
        var errors = ConnectorDefinitions.Validate("whatsapp-cloud", missing.RootElement);
        Assert.Equal(["phoneNumberId", "accessToken"], errors.Select(e => e.Field));

        using var badUrl = JsonDocument.Parse("""{"baseUrl":"ftp://x","phoneNumberId":"1","accessToken":"t"}""");
        Assert.Equal("baseUrl", Assert.Single(ConnectorDefinitions.Validate("whatsapp-cloud", badUrl.RootElement)).Field);

        using var noSender = JsonDocument.Parse("""{"accountSid":"AC1","authToken":"t"}""");
        Assert.Equal("from", Assert.Single(ConnectorDefinitions.Validate("twilio-sms", noSender.RootElement)).Field);

        using var array = JsonDocument.Parse("[]");
        Assert.Null(Assert.Single(ConnectorDefinitions.Validate("telegram-bot", array.RootElement)).Field);

        using var good = JsonDocument.Parse("""{"botToken":"123:abc"}""");
        Assert.Empty(ConnectorDefinitions.Validate("telegram-bot", good.RootElement));
    }

    [Fact]
    public void Definitions_CoverEveryBuiltInConnectorAndItsSecrets()
    {
        Assert.Equal(["fcm", "smpp", "smtp", "telegram-bot", "twilio-sms", "whatsapp-cloud"], ConnectorDefinitions.All.Select(d => d.Kind).Order());
        Assert.True(ConnectorDefinitions.IsSecret("whatsapp-cloud", "accessToken"));
        Assert.True(ConnectorDefinitions.IsSecret("whatsapp-cloud", "appSecret"));
        Assert.True(ConnectorDefinitions.IsSecret("telegram-bot", "botToken"));
        Assert.True(ConnectorDefinitions.IsSecret("twilio-sms", "authToken"));
        Assert.True(ConnectorDefinitions.IsSecret("smtp", "password"));
        Assert.False(ConnectorDefinitions.IsSecret("twilio-sms", "accountSid"));
        Assert.True(ConnectorDefinitions.IsSecret("smpp", "password"));
        Assert.False(ConnectorDefinitions.IsSecret("smpp", "systemId"));
        Assert.True(ConnectorDefinitions.IsSecret("fcm", "private_key"));
        Assert.False(ConnectorDefinitions.IsSecret("fcm", "private_key_id"));
        Assert.False(ConnectorDefinitions.IsSecret("fcm", "token_uri"));
        // Kinds without a definition: names that look like credentials are secrets.
        Assert.True(ConnectorDefinitions.IsSecret("pager-gateway", "apiKey"));
        Assert.False(ConnectorDefinitions.IsSecret("pager-gateway", "projectId"));
    }

    [Fact]
    public void Validate_SmppAndFcmSettings_AreCheckedByTheirConnectors()
    {
        using var smppMissing = JsonDocument.Parse("""{"host":"smsc.example","systemId":"bank"}""");
        Assert.Equal("sourceAddr", Assert.Single(ConnectorDefinitions.Validate("smpp", smppMissing.RootElement)).Field);
        using var smppLong = JsonDocument.Parse("""{"host":"smsc.example","systemId":"a-system-id-too-long","sourceAddr":"BANK"}""");
        Assert.Equal("systemId", Assert.Single(ConnectorDefinitions.Validate("smpp", smppLong.RootElement)).Field);
        using var smppGood = JsonDocument.Parse("""{"host":"smsc.example","systemId":"bank","password":"secret","sourceAddr":"BANK"}""");
        Assert.Empty(ConnectorDefinitions.Validate("smpp", smppGood.RootElement));

        using var fcmMissing = JsonDocument.Parse("""{"project_id":"bank-app"}""");
        Assert.Equal(["client_email", "private_key"], ConnectorDefinitions.Validate("fcm", fcmMissing.RootElement).Select(e => e.Field));
        using var fcmBadKey = JsonDocument.Parse("""{"project_id":"bank-app","client_email":"herald@bank-app.iam.example","private_key":"not a key"}""");
        Assert.Equal("private_key", Assert.Single(ConnectorDefinitions.Validate("fcm", fcmBadKey.RootElement)).Field);
        using var rsa = System.Security.Cryptography.RSA.Create(2048);
        using var fcmGood = JsonDocument.Parse(JsonSerializer.Serialize(new Dictionary<string, string>
        {
            ["project_id"] = "bank-app", ["client_email"] = "herald@bank-app.iam.example", ["private_key"] = rsa.ExportPkcs8PrivateKeyPem(),
        }));
        Assert.Empty(ConnectorDefinitions.Validate("fcm", fcmGood.RootElement));
    }

    [Fact]
    public void Redact_HidesSecrets_Merge_KeepsOmittedOrRedactedSecrets()
    {
        const string stored = """{"accountSid":"AC1","authToken":"real-token","from":"+1555"}""";

        var redacted = ConnectorDefinitions.Redact("twilio-sms", stored);
        Assert.Equal(ConnectorDefinitions.Redacted, redacted["authToken"]!.GetValue<string>());
        Assert.Equal("AC1", redacted["accountSid"]!.GetValue<string>());
        Assert.DoesNotContain("real-token", redacted.ToJsonString(), StringComparison.Ordinal);

        var omitted = ConnectorDefinitions.Merge("twilio-sms", stored, JsonNode.Parse("""{"accountSid":"AC2"}""")!.AsObject());
        Assert.Equal("real-token", omitted["authToken"]!.GetValue<string>());
        Assert.Equal("AC2", omitted["accountSid"]!.GetValue<string>());
        Assert.Equal("+1555", omitted["from"]!.GetValue<string>());

        var echoed = ConnectorDefinitions.Merge("twilio-sms", stored, redacted);
        Assert.Equal("real-token", echoed["authToken"]!.GetValue<string>());

        var replaced = ConnectorDefinitions.Merge("twilio-sms", stored, JsonNode.Parse("""{"authToken":"new","from":null}""")!.AsObject());
        Assert.Equal("new", replaced["authToken"]!.GetValue<string>());
        Assert.False(replaced.ContainsKey("from"));
    }

    private async Task<ProviderAccount> AddAsync(string name, int weight, PriceTable? prices = null)
    {
        var account = await _store.CreateAsync(Account(name, weight, prices), Ct);
        await _directory.InvalidateAsync(Ct);
        return account;
    }

    private ProviderAccount Account(string name, int weight, PriceTable? prices) =>
        new(Guid.NewGuid(), _tenant, Channel.Sms, Kind, name, "{}", weight, true, DateTimeOffset.UnixEpoch) { Prices = prices };

    private static PriceTable Prices(params (string Country, decimal Price)[] prices) =>
        new("EUR", prices.ToDictionary(static p => p.Country, static p => p.Price));

    private ProviderChoice Choice(CostPolicy policy, string? country, ProviderLatency? latency = null) =>
        new(_tenant, Channel.Sms, TestHost.Message(German), policy, country, latency ?? new ProviderLatency());
}
