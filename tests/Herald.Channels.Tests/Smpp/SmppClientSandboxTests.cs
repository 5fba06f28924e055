using Herald.Channels.Sms.Smpp;
using Herald.Core.Delivery;
using Herald.Core.Providers;
using Herald.Sandbox.Settings;
using Microsoft.Extensions.DependencyInjection;
using static Herald.Channels.Tests.Smpp.SmppTestKit;

namespace Herald.Channels.Tests.Smpp;

/// <summary>Herald's SMPP client against the sandbox SMSC over real TCP.</summary>
public sealed class SmppClientSandboxTests
{
    [Fact]
    public async Task Send_IsAccepted_AndTheDeliveryReceiptReachesTheSink()
    {
        await using var smsc = await SmscHost.StartAsync();
        var sink = new CollectingReceiptSink();
        await using var services = Services(sink);
        var connector = services.GetRequiredService<SmppSmsConnector>();
        var account = Account(smsc.Port);

        var outcome = await connector.SendAsync(TestHost.Message("+49 151 1234-5678", "Card *1234: 25.00€ at Café"), account, Ct);

        Assert.Equal(SendOutcomeKind.Accepted, outcome.Kind);
        Assert.False(string.IsNullOrEmpty(outcome.ProviderMessageId));
        var message = Assert.Single(smsc.Mailbox.Find("sms", "+4915112345678"));
        Assert.Equal(("Card *1234: 25.00€ at Café", outcome.ProviderMessageId, "bank"), (message.Text, message.ProviderMessageId, message.Account));
        await WaitUntilAsync(() => !sink.Received.IsEmpty, "the delivery receipt");
        var (accountId, receipt) = Assert.Single(sink.Received);
        Assert.Equal((account.Id, outcome.ProviderMessageId, ReceiptState.Delivered), (accountId, receipt.ProviderMessageId, receipt.State));
    }

    [Fact]
    public async Task Send_ToAnSmscWritingReceiptIdsInDecimal_MatchesOnlyWithTheAccountsIdFormat()
    {
        await using var smsc = await SmscHost.StartAsync();
        var sink = new CollectingReceiptSink();
        await using var services = Services(sink);
        var connector = services.GetRequiredService<SmppSmsConnector>();
        var plain = Account(smsc.Port, systemId: "plain");
        var converting = Account(smsc.Port, systemId: "converting", extra: new { receiptIdFormat = "hex-submit-decimal-receipt" });

        // Sandbox number 0053: submit_sm_resp gives a hex id, the receipt the same number in decimal.
        var unmatched = await connector.SendAsync(TestHost.Message("+15550000053"), plain, Ct);
        var matched = await connector.SendAsync(TestHost.Message("+15550000053"), converting, Ct);

        await WaitUntilAsync(() => sink.Received.Count == 2, "both receipts");
        var receipts = sink.Received.ToDictionary(static r => r.AccountId, static r => r.Receipt.ProviderMessageId);
        Assert.NotEqual(unmatched.ProviderMessageId, receipts[plain.Id]);
        Assert.Equal(matched.ProviderMessageId, receipts[converting.Id]);
        Assert.All(matched.ProviderMessageId!, static c => Assert.True(char.IsAsciiDigit(c)));
    }

    [Fact]
    public async Task Send_ToTheMagic0004Number_IsPermanent()
    {
        await using var smsc = await SmscHost.StartAsync();
        await using var services = Services(new CollectingReceiptSink());
        var connector = services.GetRequiredService<SmppSmsConnector>();

        var outcome = await connector.SendAsync(TestHost.Message("+15550000004"), Account(smsc.Port), Ct);

        Assert.Equal((SendOutcomeKind.PermanentFailure, "ESME_RINVDSTADR"), (outcome.Kind, outcome.ErrorCode));
        Assert.Empty(smsc.Mailbox.Find("sms"));
    }

    [Fact]
    public async Task Send_OverTheSandboxRate_IsTransientThrottled_WithRetryAfter()
    {
        await using var smsc = await SmscHost.StartAsync();
        smsc.Settings.Apply(new SandboxSettingsUpdate(null, 1, null, null, null));
        await using var services = Services(new CollectingReceiptSink());
        var connector = services.GetRequiredService<SmppSmsConnector>();
        var account = Account(smsc.Port);

        var outcomes = new List<SendOutcome>();
        for (var i = 0; i < 3; i++)
        {
            outcomes.Add(await connector.SendAsync(TestHost.Message("+4915112345678"), account, Ct));
        }

        var throttled = outcomes.Where(static o => o.Kind == SendOutcomeKind.TransientFailure).ToList();
        Assert.NotEmpty(throttled);
        Assert.All(throttled, static o => Assert.Equal(("ESME_RTHROTTLED", TimeSpan.FromSeconds(1)), (o.ErrorCode, o.RetryAfter)));
        Assert.Contains(outcomes, static o => o.Kind == SendOutcomeKind.Accepted);
    }

    [Fact]
    public async Task Send_Accepted_CostsThePriceTimesThePartsSent_AlsoWhereAnEscapeCannotBeSplit()
    {
        await using var smsc = await SmscHost.StartAsync();
        await using var services = Services(new CollectingReceiptSink());
        var connector = services.GetRequiredService<SmppSmsConnector>();
        var account = Account(smsc.Port) with { Prices = new PriceTable("EUR", new Dictionary<string, decimal> { ["DE"] = 0.07m, ["*"] = 0.10m }) };
        // 305 characters, 306 septets (the euro sign is an escape pair): a septet count gives 2 parts, but the escape
        // pair cannot straddle the first part's end, so the text goes as 3 submit_sm.
        var text = new string('a', 152) + "€" + new string('a', 152);

        var outcome = await connector.SendAsync(TestHost.Message("+4915112345678", text), account, Ct);

        Assert.Equal(SendOutcomeKind.Accepted, outcome.Kind);
        Assert.Equal(SmsText.Encode(text, 0)!.Parts.Count * 0.07m, outcome.Cost);
        Assert.Equal(text, Assert.Single(smsc.Mailbox.Find("sms")).Text);
    }

    [Fact]
    public async Task Send_WithARateLimit_AsksAPermitBeforeEachFurtherPart_AndStopsAtTheFirstRefusal()
    {
        await using var smsc = await SmscHost.StartAsync();
        await using var services = Services(new CollectingReceiptSink());
        var connector = services.GetRequiredService<SmppSmsConnector>();
        var asked = 0;
        var text = new string('a', 153 * 3);   // 3 parts
        var message = TestHost.Message("+4915112345678", text) with
        {
            // Granted for part 2, refused for part 3.
            NextPartPermit = _ => ValueTask.FromResult(++asked == 1 ? (TimeSpan?)null : TimeSpan.FromMilliseconds(250)),
        };

        var outcome = await connector.SendAsync(message, Account(smsc.Port), Ct);

        Assert.Equal(2, asked);
        Assert.Equal((SendOutcomeKind.TransientFailure, SendOutcome.PartialSendCode, TimeSpan.FromMilliseconds(250)), (outcome.Kind, outcome.ErrorCode, outcome.RetryAfter));
        Assert.Equal("part 3 of 3 held back by the account's rate limit", outcome.Error);
        Assert.Empty(smsc.Mailbox.Find("sms"));   // two of three parts: nothing whole arrived
    }

    [Fact]
    public async Task Send_ThrottledAfterItsFirstPart_IsAPartialSend_AndTheRetryCompletesTheTextOnce()
    {
        await using var smsc = await SmscHost.StartAsync();
        smsc.Settings.Apply(new SandboxSettingsUpdate(null, 1, null, null, null));
        await using var services = Services(new CollectingReceiptSink());
        var connector = services.GetRequiredService<SmppSmsConnector>();
        var account = Account(smsc.Port);
        var text = string.Concat(Enumerable.Repeat("Your statement for November is ready. ", 6));   // 228 GSM septets: 2 parts
        var message = TestHost.Message("+4915112345678", text);
        // The simulator counts its limit per wall-clock second: two parts sent a few milliseconds apart across a
        // second's boundary both went through (seen once in CI). Starting well inside a second keeps them in one.
        if (TimeProvider.System.GetUtcNow().Millisecond is > 600 and var ms)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(1010 - ms), Ct);
        }

        var first = await connector.SendAsync(message, account, Ct);

        // The SMSC took part 1 and throttled part 2: not a plain transient failure, which could go to another account.
        Assert.Equal((SendOutcomeKind.TransientFailure, SendOutcome.PartialSendCode), (first.Kind, first.ErrorCode));
        Assert.StartsWith("part 2 of 2 (ESME_RTHROTTLED)", first.Error, StringComparison.Ordinal);
        Assert.Empty(smsc.Mailbox.Find("sms"));

        // The retry (a new attempt of the same notification) repeats part 1 under the same reference: the handset,
        // here the simulator, reassembles the text once.
        smsc.Settings.Apply(new SandboxSettingsUpdate(null, 0, null, null, null));
        var retry = await connector.SendAsync(message with { AttemptId = Guid.NewGuid() }, account, Ct);

        Assert.Equal(SendOutcomeKind.Accepted, retry.Kind);
        Assert.Equal(text, Assert.Single(smsc.Mailbox.Find("sms")).Text);
    }

    [Fact]
    public async Task Send_SystemIdInASandboxOutage_IsTransientSystemError_UntilItEnds()
    {
        await using var smsc = await SmscHost.StartAsync();
        await using var services = Services(new CollectingReceiptSink());
        var connector = services.GetRequiredService<SmppSmsConnector>();
        var account = Account(smsc.Port);
        smsc.Outages.Start("bank");

        var down = await connector.SendAsync(TestHost.Message("+4915112345678"), account, Ct);
        smsc.Outages.End("bank");
        var back = await connector.SendAsync(TestHost.Message("+4915112345678"), account, Ct);

        Assert.Equal((SendOutcomeKind.TransientFailure, "ESME_RSYSERR"), (down.Kind, down.ErrorCode));
        Assert.Equal(SendOutcomeKind.Accepted, back.Kind);
        Assert.Single(smsc.Mailbox.Find("sms"));
    }

    [Fact]
    public async Task Send_LongUcs2Text_IsReassembled_AndEveryPartsIdIsRecorded_AndEveryPartsReceiptPassedOn()
    {
        await using var smsc = await SmscHost.StartAsync();
        var sink = new CollectingReceiptSink();
        await using var services = Services(sink);
        var connector = services.GetRequiredService<SmppSmsConnector>();
        var text = string.Concat(Enumerable.Repeat("Ваш код 😀 ", 20));   // 220 UTF-16 units: 4 parts
        var message = TestHost.Message("+4915112345678", text);

        var outcome = await connector.SendAsync(message, Account(smsc.Port), Ct);

        Assert.Equal(SendOutcomeKind.Accepted, outcome.Kind);
        var received = Assert.Single(smsc.Mailbox.Find("sms"));
        Assert.Equal((text, outcome.ProviderMessageId), (received.Text, received.ProviderMessageId));
        // The parts were recorded for the attempt before the outcome came back, the attempt's own id first.
        var parts = sink.Parts[message.AttemptId];
        Assert.Equal(4, parts.Distinct().Count());
        Assert.Equal(outcome.ProviderMessageId, parts[0]);
        // The SMSC sends a receipt per part; each one goes to the sink, which decides what the message's state is.
        await WaitUntilAsync(() => sink.Received.Count == 4, "four part receipts");
        Assert.Equal(parts.Order(StringComparer.Ordinal), sink.Received.Select(static r => r.Receipt.ProviderMessageId).Order(StringComparer.Ordinal));
        Assert.All(sink.Received, static r => Assert.Equal(ReceiptState.Delivered, r.Receipt.State));
    }

    [Fact]
    public async Task Send_ThreePartText_ToTheMagicFailingPartNumber_ReceiptsComeInReverse_WithTheSecondPartUndeliverable()
    {
        await using var smsc = await SmscHost.StartAsync();
        var sink = new CollectingReceiptSink();
        await using var services = Services(sink);
        var connector = services.GetRequiredService<SmppSmsConnector>();
        var text = string.Concat(Enumerable.Repeat("Statement line 0123456789. ", 15));   // 405 GSM septets: 3 parts
        var message = TestHost.Message("+4915112340052", text);

        var outcome = await connector.SendAsync(message, Account(smsc.Port), Ct);

        Assert.Equal(SendOutcomeKind.Accepted, outcome.Kind);
        var parts = sink.Parts[message.AttemptId];
        Assert.Equal(3, parts.Count);
        Assert.Equal(outcome.ProviderMessageId, parts[0]);
        await WaitUntilAsync(() => sink.Received.Count == 3, "three part receipts");
        var receipts = sink.Received.Select(static r => r.Receipt).ToList();
        Assert.Equal(parts.Reverse(), receipts.Select(static r => r.ProviderMessageId));
        Assert.Equal([ReceiptState.Delivered, ReceiptState.Failed, ReceiptState.Delivered], receipts.Select(static r => r.State));
        Assert.Equal("UNDELIV:001", receipts[1].ErrorCode);
        Assert.Equal(text, Assert.Single(smsc.Mailbox.Find("sms")).Text);
    }

    [Fact]
    public async Task Send_WhenThePartsCannotBeRecorded_IsStillAccepted_SinceEveryPartIsAtTheSmsc()
    {
        await using var smsc = await SmscHost.StartAsync();
        var sink = new CollectingReceiptSink { FailRecordParts = true };
        await using var services = Services(sink);
        var connector = services.GetRequiredService<SmppSmsConnector>();

        var outcome = await connector.SendAsync(TestHost.Message("+4915112345678", new string('x', 200)), Account(smsc.Port), Ct);

        Assert.Equal(SendOutcomeKind.Accepted, outcome.Kind);
        Assert.Empty(sink.Parts);
        Assert.Single(smsc.Mailbox.Find("sms"));
    }

    [Fact]
    public async Task SmscKilledAndRestarted_TheClientReconnects_AndSendsAgain()
    {
        var smsc = await SmscHost.StartAsync();
        var port = smsc.Port;
        var sink = new CollectingReceiptSink();
        await using var services = Services(sink);
        var connector = services.GetRequiredService<SmppSmsConnector>();
        var sessions = services.GetRequiredService<SmppSessions>();
        var account = Account(port);
        Assert.Equal(SendOutcomeKind.Accepted, (await connector.SendAsync(TestHost.Message("+4915112345678"), account, Ct)).Kind);

        await smsc.DisposeAsync();
        await WaitUntilAsync(() => !sessions.IsBound(account.Id), "the client to notice the drop");
        var down = await connector.SendAsync(TestHost.Message("+4915112345678"), account, Ct);
        Assert.Equal(SendOutcomeKind.TransientFailure, down.Kind);
        Assert.Contains(down.ErrorCode, new[] { "connection_lost", "network" });

        await using var restarted = await SmscHost.StartAsync(port);
        await WaitUntilAsync(() => sessions.IsBound(account.Id), "the client to bind again");
        var again = await connector.SendAsync(TestHost.Message("+4915112345678", "after restart"), account, Ct);

        Assert.Equal(SendOutcomeKind.Accepted, again.Kind);
        Assert.Equal(2, sessions.Binds(account.Id));
        Assert.Equal("after restart", Assert.Single(restarted.Mailbox.Find("sms")).Text);
    }

    [Fact]
    public async Task IdleSession_IsKeptAliveWithEnquireLink()
    {
        await using var smsc = await SmscHost.StartAsync();
        await using var services = Services(new CollectingReceiptSink());
        var connector = services.GetRequiredService<SmppSmsConnector>();
        var sessions = services.GetRequiredService<SmppSessions>();
        var account = Account(smsc.Port, extra: new { enquireLinkSeconds = 1 });
        await connector.SendAsync(TestHost.Message("+4915112345678"), account, Ct);

        await WaitUntilAsync(() => smsc.Smsc.EnquireLinksAnswered >= 2, "two enquire_link", seconds: 20);

        Assert.True(sessions.IsBound(account.Id));
        Assert.Equal(1, sessions.Binds(account.Id));
        Assert.Equal(1, smsc.Smsc.ConnectionsAccepted);
    }

    [Fact]
    public async Task WrongPassword_IsTransientBindFailed()
    {
        await using var smsc = await SmscHost.StartAsync(0, ("Herald:Sandbox:SmppPassword", "right"));
        await using var services = Services(new CollectingReceiptSink());
        var connector = services.GetRequiredService<SmppSmsConnector>();

        var outcome = await connector.SendAsync(TestHost.Message("+4915112345678"), Account(smsc.Port, password: "wrong"), Ct);

        Assert.Equal((SendOutcomeKind.TransientFailure, "bind_failed"), (outcome.Kind, outcome.ErrorCode));
        Assert.Contains("ESME_RINVPASWD", outcome.Error, StringComparison.Ordinal);
        Assert.Empty(smsc.Mailbox.Find("sms"));
    }

    [Fact]
    public async Task SmscUnbinds_TheClientAnswers_AndBindsAgain()
    {
        await using var smsc = await SmscHost.StartAsync();
        await using var services = Services(new CollectingReceiptSink());
        var connector = services.GetRequiredService<SmppSmsConnector>();
        var sessions = services.GetRequiredService<SmppSessions>();
        var account = Account(smsc.Port);
        await connector.SendAsync(TestHost.Message("+4915112345678"), account, Ct);

        await smsc.Smsc.UnbindAllAsync(Ct);

        await WaitUntilAsync(() => sessions.Binds(account.Id) == 2 && sessions.IsBound(account.Id), "a second bind");
        Assert.Equal(SendOutcomeKind.Accepted, (await connector.SendAsync(TestHost.Message("+4915112345678"), account, Ct)).Kind);
    }

    [Fact]
    public async Task ReceiptRefusedByHerald_IsRedeliveredByTheSmsc()
    {
        await using var smsc = await SmscHost.StartAsync();
        var sink = new CollectingReceiptSink { FailNext = 1 };
        await using var services = Services(sink);
        var connector = services.GetRequiredService<SmppSmsConnector>();

        var outcome = await connector.SendAsync(TestHost.Message("+4915112345678"), Account(smsc.Port), Ct);

        await WaitUntilAsync(() => !sink.Received.IsEmpty, "the redelivered receipt");
        Assert.Equal(1, sink.Refused);
        Assert.Equal(outcome.ProviderMessageId, Assert.Single(sink.Received).Receipt.ProviderMessageId);
    }

    [Fact]
    public async Task ManyConcurrentSends_ShareOneSessionWithinTheWindow()
    {
        await using var smsc = await SmscHost.StartAsync();
        smsc.Settings.Apply(new SandboxSettingsUpdate(20, null, null, null, null));
        await using var services = Services(new CollectingReceiptSink());
        var connector = services.GetRequiredService<SmppSmsConnector>();
        var account = Account(smsc.Port, extra: new { windowSize = 4 });

        var outcomes = await Task.WhenAll(Enumerable.Range(0, 40).Select(i =>
            connector.SendAsync(TestHost.Message($"+49151{i:000}5555"), account, Ct)));

        Assert.All(outcomes, static o => Assert.Equal(SendOutcomeKind.Accepted, o.Kind));
        Assert.Equal(40, outcomes.Select(static o => o.ProviderMessageId).Distinct().Count());
        Assert.Equal(1, smsc.Smsc.ConnectionsAccepted);
        Assert.Equal(40, smsc.Mailbox.Find("sms").Count);
    }

    [Fact]
    public async Task ReceiptForAMessageSentBeforeARestart_ArrivesAfterTheWorkerBindsAtStart()
    {
        await using var smsc = await SmscHost.StartAsync();
        var store = new InMemoryProviderStore();
        var account = await store.CreateAsync(Account(smsc.Port), Ct);

        // The first Herald process sends, but goes down without taking the receipt (its database is gone).
        var before = new CollectingReceiptSink { FailNext = int.MaxValue };
        string messageId;
        await using (var first = Services(before, store))
        {
            var outcome = await first.GetRequiredService<SmppSmsConnector>().SendAsync(TestHost.Message("+4915112345678"), account, Ct);
            messageId = outcome.ProviderMessageId!;
            await WaitUntilAsync(() => before.Refused >= 1, "the first process to refuse the receipt");
        }

        // The restarted process never sends: its binder binds the account at start and the SMSC hands the receipt over.
        var after = new CollectingReceiptSink();
        await using var second = Services(after, store, bindOnStart: true);
        var hosted = second.GetServices<Microsoft.Extensions.Hosting.IHostedService>().ToList();
        foreach (var service in hosted)
        {
            await service.StartAsync(Ct);
        }

        await WaitUntilAsync(() => !after.Received.IsEmpty, "the receipt on the restarted process");
        var (accountId, receipt) = Assert.Single(after.Received);
        Assert.Equal((account.Id, messageId, ReceiptState.Delivered), (accountId, receipt.ProviderMessageId, receipt.State));
        foreach (var service in hosted)
        {
            await service.StopAsync(Ct);
        }
    }

    [Fact]
    public async Task UnusableSettingsOrAddress_AreMappedWithoutConnecting()
    {
        await using var services = Services(new CollectingReceiptSink());
        var connector = services.GetRequiredService<SmppSmsConnector>();
        var broken = Account(2775) with { Settings = """{"host":"127.0.0.1","systemId":"bank"}""" };

        var settings = await connector.SendAsync(TestHost.Message("+4915112345678"), broken, Ct);
        var address = await connector.SendAsync(TestHost.Message("no digits"), Account(1), Ct);

        Assert.Equal((SendOutcomeKind.TransientFailure, "invalid_settings"), (settings.Kind, settings.ErrorCode));
        Assert.Equal((SendOutcomeKind.PermanentFailure, "invalid_address"), (address.Kind, address.ErrorCode));
    }
}
