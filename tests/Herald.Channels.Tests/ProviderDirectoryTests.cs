using Herald.Channels.Providers;
using Herald.Channels.WhatsApp;
using Herald.Core.Notifications;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace Herald.Channels.Tests;

public sealed class ProviderDirectoryTests : IAsyncLifetime
{
    private static readonly Uri Graph = new("https://graph.facebook.com");
    private readonly InMemoryProviderStore _store = new();
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2025, 6, 1, 8, 0, 0, TimeSpan.Zero));
    private ProviderDirectory _directory = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>The WhatsApp channel's matcher over this directory (phone number ids are the channel's, not the directory's).</summary>
    private WhatsAppAccountMatcher WhatsApp => new(_directory, NullLogger<WhatsAppAccountMatcher>.Instance);

    public ValueTask InitializeAsync()
    {
        _directory = new ProviderDirectory(_store, Options.Create(new ChannelsOptions { ProviderRefreshInterval = TimeSpan.FromSeconds(5) }), _time, NullLogger<ProviderDirectory>.Instance);
        return ValueTask.CompletedTask;
    }

    public async ValueTask DisposeAsync()
    {
        await _directory.StopAsync(CancellationToken.None);
        await _directory.DisposeAsync();
    }

    [Fact]
    public async Task StartAsync_EnabledAccounts_AreAnsweredPerTenantAndChannel()
    {
        var tenant = Guid.NewGuid();
        var wa1 = TestHost.WhatsAppAccount(Graph, "111", tenant, name: "wa1");
        var wa2 = TestHost.WhatsAppAccount(Graph, "222", tenant, name: "wa2");
        var disabled = TestHost.WhatsAppAccount(Graph, "333", tenant) with { Enabled = false };
        var otherTenant = TestHost.WhatsAppAccount(Graph, "444");
        foreach (var a in new[] { wa1, wa2, disabled, otherTenant })
        {
            await _store.CreateAsync(a, Ct);
        }

        await _directory.StartAsync(Ct);

        Assert.True(_directory.IsLoaded);
        Assert.Equal([wa1, wa2], _directory.For(tenant, Channel.WhatsApp));
        Assert.Empty(_directory.For(tenant, Channel.Telegram));
        Assert.Empty(_directory.For(Guid.NewGuid(), Channel.WhatsApp));
        Assert.Equal([wa2], WhatsApp.FindByPhoneNumberId("222"));
        Assert.Empty(WhatsApp.FindByPhoneNumberId("333"));
        Assert.Equal(otherTenant, _directory.Find(otherTenant.Id));
    }

    [Fact]
    public async Task InvalidateAsync_AfterStoreChange_SeesNewAccountAtOnce()
    {
        await _directory.StartAsync(Ct);
        var tenant = Guid.NewGuid();
        Assert.Empty(_directory.For(tenant, Channel.WhatsApp));

        var added = await _store.CreateAsync(TestHost.WhatsAppAccount(Graph, "555", tenant), Ct);
        await _directory.InvalidateAsync(Ct);

        Assert.Equal([added], _directory.For(tenant, Channel.WhatsApp));
        Assert.Equal([added], WhatsApp.FindByPhoneNumberId("555"));
    }

    [Fact]
    public async Task BackgroundRefresh_AfterInterval_PicksUpChanges()
    {
        await _directory.StartAsync(Ct);
        var tenant = Guid.NewGuid();
        var added = await _store.CreateAsync(TestHost.WhatsAppAccount(Graph, "666", tenant), Ct);
        Assert.Empty(_directory.For(tenant, Channel.WhatsApp));

        await Eventually.TrueAsync(() =>
        {
            _time.Advance(TimeSpan.FromSeconds(5));
            return _directory.For(tenant, Channel.WhatsApp).Count == 1;
        });

        Assert.Equal([added], _directory.For(tenant, Channel.WhatsApp));
    }

    [Fact]
    public async Task BackgroundRefresh_StoreFails_KeepsLastGoodSnapshot()
    {
        var tenant = Guid.NewGuid();
        var account = await _store.CreateAsync(TestHost.WhatsAppAccount(Graph, "777", tenant), Ct);
        await _directory.StartAsync(Ct);
        _store.Failure = new InvalidOperationException("database is down");
        var calls = _store.ListCalls;

        await Eventually.TrueAsync(() =>
        {
            _time.Advance(TimeSpan.FromSeconds(5));
            return _store.ListCalls > calls + 1;
        });

        Assert.Equal([account], _directory.For(tenant, Channel.WhatsApp));
        Assert.True(_directory.IsLoaded);
    }

    [Fact]
    public async Task StartAsync_StoreDown_StartsEmptyAndLoadsOnceStoreAnswers()
    {
        var tenant = Guid.NewGuid();
        await _store.CreateAsync(TestHost.WhatsAppAccount(Graph, "888", tenant), Ct);
        _store.Failure = new InvalidOperationException("database is down");

        await _directory.StartAsync(Ct);
        Assert.False(_directory.IsLoaded);
        Assert.Empty(_directory.For(tenant, Channel.WhatsApp));

        _store.Failure = null;
        await Eventually.TrueAsync(() =>
        {
            _time.Advance(TimeSpan.FromSeconds(5));
            return _directory.IsLoaded;
        });
        Assert.Single(_directory.For(tenant, Channel.WhatsApp));
    }

    [Fact]
    public async Task Build_AccountWithBrokenSettings_IsListedButNotRoutableByPhoneNumberId()
    {
        var tenant = Guid.NewGuid();
        var broken = TestHost.WhatsAppAccount(Graph, "999", tenant) with { Settings = "{}" };
        await _store.CreateAsync(broken, Ct);

        await _directory.StartAsync(Ct);

        Assert.Equal([broken], _directory.For(tenant, Channel.WhatsApp));
        Assert.Empty(WhatsApp.FindByPhoneNumberId("999"));
    }
}

/// <summary>Waits on a condition with a deadline instead of sleeping.</summary>
public static class Eventually
{
    public static async Task TrueAsync(Func<bool> condition, TimeSpan? deadline = null)
    {
        var until = TimeProvider.System.GetTimestamp() + (long)((deadline ?? TestHost.Deadline).TotalSeconds * TimeProvider.System.TimestampFrequency);
        while (!condition())
        {
            // The deadline only bounds a hung test; nothing asserts on elapsed time.
            Assert.True(TimeProvider.System.GetTimestamp() < until, "condition not met before the deadline");
            await Task.Delay(TimeSpan.FromMilliseconds(5), TestContext.Current.CancellationToken);
        }
    }
}
