using System.Collections.Concurrent;
using System.Text.Json;
using Herald.Channels.Callbacks;
using Herald.Channels.Sms.Smpp;
using Herald.Core.Notifications;
using Herald.Core.Providers;
using Herald.Sandbox;
using Herald.Sandbox.Mailbox;
using Herald.Sandbox.Settings;
using Herald.Sandbox.Smpp;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Herald.Channels.Tests.Smpp;

/// <summary>Receipts as the Server's adapter would get them.</summary>
public sealed class CollectingReceiptSink : IReceiptSink
{
    public ConcurrentQueue<(Guid AccountId, ProviderReceipt Receipt)> Received { get; } = new();

    /// <summary>How many calls to refuse first (Herald's database is down).</summary>
    public int FailNext;

    public int Refused;

    /// <summary>Part ids recorded per attempt, in the order the client recorded them.</summary>
    public ConcurrentDictionary<Guid, IReadOnlyList<string>> Parts { get; } = new();

    /// <summary>Refuse to record parts (Herald's database is down).</summary>
    public bool FailRecordParts { get; init; }

    public Task RecordPartsAsync(ProviderAccount account, Guid attemptId, IReadOnlyList<string> partIds, CancellationToken ct)
    {
        if (FailRecordParts)
        {
            throw new InvalidOperationException("database unavailable");
        }

        Parts[attemptId] = [.. partIds];
        return Task.CompletedTask;
    }

    public Task AcceptAsync(InboundBatch batch, CancellationToken ct)
    {
        var (account, receipts) = batch;
        if (Interlocked.Decrement(ref FailNext) >= 0)
        {
            Interlocked.Increment(ref Refused);
            throw new InvalidOperationException("database unavailable");
        }

        foreach (var receipt in receipts)
        {
            Received.Enqueue((account.Id, receipt));
        }

        return Task.CompletedTask;
    }
}

/// <summary>The sandbox (with its SMSC simulator) on a real Kestrel host.</summary>
public sealed class SmscHost : IAsyncDisposable
{
    private readonly WebApplication _app;

    private SmscHost(WebApplication app)
    {
        _app = app;
        Smsc = app.Services.GetRequiredService<SmppSimulator>();
    }

    public SmppSimulator Smsc { get; }

    public int Port => Smsc.Port!.Value;

    public string BaseUrl => _app.Urls.First();

    public SandboxMailbox Mailbox => _app.Services.GetRequiredService<SandboxMailbox>();

    public SandboxSettings Settings => _app.Services.GetRequiredService<SandboxSettings>();

    public Herald.Sandbox.Outages.SandboxOutages Outages => _app.Services.GetRequiredService<Herald.Sandbox.Outages.SandboxOutages>();

    public static async Task<SmscHost> StartAsync(int port = 0, params (string Key, string Value)[] settings)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Herald:Sandbox:Enabled"] = "true",
            ["Herald:Sandbox:ReceiptDelayMs"] = "10",
            ["Herald:Sandbox:SmtpPort"] = "-1",
            ["Herald:Sandbox:SmppPort"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture),
        });
        builder.Configuration.AddInMemoryCollection(settings.Select(static s => new KeyValuePair<string, string?>(s.Key, s.Value)));
        builder.Services.AddHeraldSandbox(builder.Configuration);
        var app = builder.Build();
        app.MapHeraldSandbox();
        await app.StartAsync();
        return new SmscHost(app);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}

public static class SmppTestKit
{
    public static CancellationToken Ct => TestContext.Current.CancellationToken;

    public static ServiceProvider Services(IReceiptSink sink, IProviderAccountSource? store = null, bool bindOnStart = false)
    {
        var config = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["Herald:Channels:HttpTimeout"] = "00:00:05",
                ["Herald:Channels:SendTimeout"] = "00:00:05",
                [TestHost.EgressAllowSetting] = TestHost.EgressAllowLoopback,
            })
            .Build();
        var services = new ServiceCollection().AddLogging();
        services.AddSingleton(store ?? new InMemoryProviderStore());
        services.AddSingleton(sink);
        services.AddHeraldChannels(config);
        if (bindOnStart)
        {
            services.AddSmppReceipts<CollectingReceiptSink>();
        }

        return services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true, ValidateScopes = true });
    }

    public static ProviderAccount Account(int port, string systemId = "bank", string password = "secret", object? extra = null)
    {
        var settings = new Dictionary<string, object?>
        {
            ["host"] = "127.0.0.1",
            ["port"] = port,
            ["systemId"] = systemId,
            ["password"] = password,
            ["sourceAddr"] = "BANK",
            ["reconnectMinSeconds"] = 0,
            ["reconnectMaxSeconds"] = 1,
            ["responseTimeoutSeconds"] = 5,
        };
        if (extra is not null)
        {
            foreach (var p in JsonSerializer.SerializeToElement(extra).EnumerateObject())
            {
                settings[p.Name] = p.Value;
            }
        }

        return new ProviderAccount(Guid.NewGuid(), Guid.NewGuid(), Channel.Sms, SmppSmsConnector.ConnectorKind, "smpp", JsonSerializer.Serialize(settings), 1, true, DateTimeOffset.UnixEpoch);
    }

    public static async Task WaitUntilAsync(Func<bool> condition, string what, int seconds = 15)
    {
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(seconds));
        while (!condition())
        {
            if (deadline.IsCancellationRequested)
            {
                Assert.Fail($"Timed out waiting for {what}");
            }

            await Task.Delay(10, CancellationToken.None);
        }
    }
}
