using Herald.Channels.Email;
using Herald.Core.Delivery;
using Herald.Core.Providers;
using Herald.Sandbox;
using Herald.Sandbox.Mailbox;
using Herald.Sandbox.Settings;
using Herald.Sandbox.Smtp;
using Herald.Sandbox.Throttling;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace Herald.Channels.Tests.Email;

/// <summary>What the SMTP simulator is made to answer: a recipient (magic addresses choose replies) and shaping.</summary>
public sealed record SmtpAnswer(string Recipient, SandboxSettingsUpdate? Shape = null, bool ExhaustRate = false);

/// <summary>
/// The compliance suite for the SMTP connector, whose peer is Herald's SMTP simulator: a real SMTP server on a socket,
/// told what to answer through its magic recipients (<c>@bounce.test</c> → 550) and its shaping (failure rate → 451,
/// rate → 451 4.7.1, latency → a relay that never answers in time).
/// </summary>
public sealed class SmtpEmailConnectorComplianceTests : ConnectorComplianceTests<SmtpEmailConnector, SmtpAnswer>
{
    private static readonly SandboxSettingsUpdate Unshaped = new(0, 0, null, 0.0, null);

    // The rate window only moves when the test says so: no second boundary can let a "limited" send through.
    private readonly FakeTimeProvider _rateClock = new(new DateTimeOffset(2026, 1, 5, 9, 0, 0, TimeSpan.Zero));
    private SmtpSimulator _simulator = null!;
    private SandboxSettings _settings = null!;
    private SandboxRateLimiter _rateLimiter = null!;
    private ProviderAccount? _account;

    protected override SendOutcomeKind SuccessKind => SendOutcomeKind.Accepted;

    protected override string Recipient => "ana@customer.example";

    protected override IReadOnlyList<ProviderAnswerCase<SmtpAnswer>> AnswerTable =>
    [
        new("hard bounce (550 user unknown)", new("nobody@bounce.test"), SendOutcomeKind.PermanentFailure, "550"),
        new("temporary failure (451)", new(Recipient, new SandboxSettingsUpdate(null, null, null, 1.0, null)), SendOutcomeKind.TransientFailure, "451"),
    ];

    // "451 4.7.1 Rate limit exceeded, try again later": SMTP has no retry-after, the worker's backoff decides.
    protected override (SmtpAnswer Answer, TimeSpan? RetryAfter) RateLimitSignal =>
        (new SmtpAnswer(Recipient, new SandboxSettingsUpdate(null, 1, null, null, null), ExhaustRate: true), null);

    // Bounces arrive later as DSN mail, which Herald does not read yet.
    protected override bool HasReceipts => false;

    protected override async ValueTask StartPeerAsync()
    {
        var options = Options.Create(new SandboxOptions { SmtpPort = 0 });
        var time = TimeProvider.System;
        _settings = new SandboxSettings(options);
        _rateLimiter = new SandboxRateLimiter(_rateClock);
        _simulator = new SmtpSimulator(options, _settings, new SandboxMailbox(options), _rateLimiter, new SandboxStats(time), new Herald.Sandbox.Outages.SandboxOutages(), time, NullLogger<SmtpSimulator>.Instance);
        await _simulator.StartAsync(CancellationToken.None);
    }

    protected override ValueTask StopPeerAsync() => _simulator.DisposeAsync();

    // One account per test, so the connection pool and the simulator's rate key stay the same within a test.
    protected override ProviderAccount PeerAccount() => _account ??= SmtpSandbox.Account(_simulator.Port!.Value);

    protected override ProviderAccount UnreachableAccount() => SmtpSandbox.Account(SmtpSandbox.FreePort());

    protected override void PeerAccepts() => _settings.Apply(Unshaped);

    protected override Task PeerHangs()
    {
        _settings.Apply(new SandboxSettingsUpdate(60_000, null, null, null, null));
        return WaitForConnectionAsync();
    }

    protected override string PeerAnswers(SmtpAnswer answer)
    {
        _settings.Apply(Unshaped);
        if (answer.Shape is { } shape)
        {
            _settings.Apply(shape);
        }

        if (answer.ExhaustRate)
        {
            // The simulator limits per MAIL FROM (no login here): take this second's only slot.
            Assert.True(_rateLimiter.TryAcquire(SmtpSimulator.ChannelName + ":alerts@bank.example", 1).Allowed);
        }

        return answer.Recipient;
    }

    private async Task WaitForConnectionAsync()
    {
        using var deadline = new CancellationTokenSource(TestHost.Deadline);
        while (_simulator.ActiveConnections == 0)
        {
            await Task.Delay(5, deadline.Token);
        }
    }
}
