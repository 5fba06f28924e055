using Herald.Channels.Sms;
using Herald.Channels.Telegram;
using Herald.Channels.WhatsApp;
using Herald.Core.Notifications;
using Herald.Core.Providers;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Herald.Channels.Tests;

/// <summary>Connectors as the application composes them (AddHeraldChannels), with timeouts a loaded machine does not
/// hit; a test whose subject is a timeout sets its own.</summary>
public static class TestHost
{
    /// <summary>The send and HTTP timeout of <see cref="Services"/>.</summary>
    public static readonly TimeSpan SendTimeout = TimeSpan.FromSeconds(30);

    /// <summary>How long a test waits for something that happens at once on an idle machine (a request reaching a
    /// peer, a callback arriving). It only bounds a hung test: nothing asserts on elapsed time, and a 2-core CI
    /// machine under load can take seconds.</summary>
    public static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    /// <summary>The fake providers and sandboxes of these tests listen on loopback, which the egress guard refuses unless
    /// allowed: every test host allows it explicitly, as an operator allows an internal relay. Tests whose subject is the
    /// guard leave it out.</summary>
    public const string EgressAllowSetting = "Herald:Egress:Allow:0";

    public const string EgressAllowLoopback = "127.0.0.1";

    public static ServiceProvider Services(IProviderAccountSource? store = null, params (string Key, string Value)[] settings)
    {
        var config = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["Herald:Channels:HttpTimeout"] = SendTimeout.ToString("c", System.Globalization.CultureInfo.InvariantCulture),
                ["Herald:Channels:SendTimeout"] = SendTimeout.ToString("c", System.Globalization.CultureInfo.InvariantCulture),
                [EgressAllowSetting] = EgressAllowLoopback,
            })
            .AddInMemoryCollection(settings.Select(static s => new KeyValuePair<string, string?>(s.Key, s.Value)))
            .Build();
        var services = new ServiceCollection().AddLogging();
        services.AddSingleton(store ?? new InMemoryProviderStore());
        services.AddHeraldChannels(config);
        return services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true, ValidateScopes = true });
    }

    public static ProviderAccount WhatsAppAccount(Uri baseUrl, string phoneNumberId = "106540352242922", Guid? tenantId = null, int weight = 1, string name = "wa") =>
        new(Guid.NewGuid(), tenantId ?? Guid.NewGuid(), Channel.WhatsApp, WhatsAppCloudConnector.ConnectorKind, name,
            $$"""{"baseUrl":"{{baseUrl}}","apiVersion":"v21.0","phoneNumberId":"{{phoneNumberId}}","accessToken":"EAAJB-test-token","appSecret":"s3cret","verifyToken":"vt"}""",
            weight, true, DateTimeOffset.UnixEpoch);

    public static ProviderAccount TelegramAccount(Uri baseUrl, string token = "123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11") =>
        new(Guid.NewGuid(), Guid.NewGuid(), Channel.Telegram, TelegramBotConnector.ConnectorKind, "tg",
            $$"""{"baseUrl":"{{baseUrl}}","botToken":"{{token}}","webhookSecret":"whsec"}""",
            1, true, DateTimeOffset.UnixEpoch);

    public static ProviderAccount TwilioAccount(Uri baseUrl, string accountSid = "ACXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX", string authToken = "your_auth_token",
        string? statusCallbackUrl = "https://herald.example/callbacks/sms/{providerId}", string from = "+15557122661") =>
        new(Guid.NewGuid(), Guid.NewGuid(), Channel.Sms, TwilioSmsConnector.ConnectorKind, "sms",
            System.Text.Json.JsonSerializer.Serialize(new Dictionary<string, string?>
            {
                ["baseUrl"] = baseUrl.ToString(),
                ["accountSid"] = accountSid,
                ["authToken"] = authToken,
                ["from"] = from,
                ["messagingServiceSid"] = null,
                ["statusCallbackUrl"] = statusCallbackUrl,
            }),
            1, true, DateTimeOffset.UnixEpoch);

    public static OutboundMessage Message(string to, string text = "Card *1234: 25.00 EUR at Coffee Bar", WhatsAppTemplate? template = null) =>
        new(Guid.NewGuid(), Guid.NewGuid(), to, text, template);
}

/// <summary>An in-memory fake of the provider account source (not a database mock), with the writes tests need.</summary>
public sealed class InMemoryProviderStore : IProviderAccountSource
{
    private readonly Lock _gate = new();
    private readonly List<ProviderAccount> _accounts = [];

    /// <summary>When set, ListEnabledAsync throws it (the database is down).</summary>
    public Exception? Failure { get; set; }

    public int ListCalls { get; private set; }

    public Task<ProviderAccount> CreateAsync(ProviderAccount account, CancellationToken ct)
    {
        lock (_gate)
        {
            _accounts.Add(account);
        }

        return Task.FromResult(account);
    }

    public Task<IReadOnlyList<ProviderAccount>> CreateManyAsync(IReadOnlyList<ProviderAccount> accounts, CancellationToken ct)
    {
        lock (_gate)
        {
            _accounts.AddRange(accounts);
        }

        return Task.FromResult(accounts);
    }

    public void Replace(ProviderAccount account)
    {
        lock (_gate)
        {
            _accounts.RemoveAll(a => a.Id == account.Id);
            _accounts.Add(account);
        }
    }

    public Task<IReadOnlyList<ProviderAccount>> ListAsync(Guid tenantId, CancellationToken ct)
    {
        lock (_gate)
        {
            return Task.FromResult<IReadOnlyList<ProviderAccount>>(_accounts.Where(a => a.TenantId == tenantId).ToArray());
        }
    }

    public Task<IReadOnlyList<ProviderAccount>> ListEnabledAsync(CancellationToken ct)
    {
        lock (_gate)
        {
            ListCalls++;
            if (Failure is { } failure)
            {
                return Task.FromException<IReadOnlyList<ProviderAccount>>(failure);
            }

            return Task.FromResult<IReadOnlyList<ProviderAccount>>(_accounts.Where(a => a.Enabled).ToArray());
        }
    }

    public Task<ProviderAccount?> GetAsync(Guid tenantId, Guid id, CancellationToken ct)
    {
        lock (_gate)
        {
            return Task.FromResult(_accounts.FirstOrDefault(a => a.Id == id && a.TenantId == tenantId));
        }
    }

    public Task<ProviderAccount?> UpdateAsync(ProviderAccount account, CancellationToken ct)
    {
        lock (_gate)
        {
            var index = _accounts.FindIndex(a => a.Id == account.Id && a.TenantId == account.TenantId);
            if (index < 0)
            {
                return Task.FromResult<ProviderAccount?>(null);
            }

            _accounts[index] = account;
            return Task.FromResult<ProviderAccount?>(account);
        }
    }
}
