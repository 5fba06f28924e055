using Herald.Core.Delivery;
using Herald.Storage;
using Microsoft.Extensions.DependencyInjection;

namespace Herald.Channels.Tests;

/// <summary>
/// The compliance suite every HTTP connector passes (issue 3: one suite for all connectors): a success maps to the
/// connector's success kind with a provider message id; a provider that never answers is a transient timeout; a
/// refused connection is a transient network failure; the caller's cancellation propagates. Each connector's own
/// class adds its vendor-specific cases (request shape, error-code table, settings).
/// </summary>
public abstract class ConnectorComplianceTests<TConnector> : IAsyncLifetime where TConnector : class, IChannelConnector
{
    private ServiceProvider _services = null!;

    /// <summary>A real HTTP peer on loopback answering with the vendor's documented bodies.</summary>
    protected ProviderPeer Peer { get; } = new();

    protected TConnector Connector => _services.GetRequiredService<TConnector>();

    protected static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>The vendor's documented success answer.</summary>
    protected abstract (int Status, string Body) Success { get; }

    protected abstract SendOutcomeKind SuccessKind { get; }

    /// <summary>A valid address on this connector's channel.</summary>
    protected abstract string Recipient { get; }

    protected abstract ProviderAccount Account(Uri baseUrl);

    public async ValueTask InitializeAsync()
    {
        await Peer.InitializeAsync();
        _services = TestHost.Services(null, ("Herald:Channels:HttpTimeout", "00:00:30"), ("Herald:Channels:SendTimeout", "00:00:30"));
    }

    public async ValueTask DisposeAsync()
    {
        await _services.DisposeAsync();
        await Peer.DisposeAsync();
    }

    [Fact]
    public async Task SendAsync_ProviderAccepts_ReturnsSuccessWithProviderMessageId()
    {
        Peer.Answer(Success.Status, Success.Body);

        var outcome = await Connector.SendAsync(TestHost.Message(Recipient), Account(Peer.BaseUrl), Ct);

        Assert.Equal(SuccessKind, outcome.Kind);
        Assert.False(string.IsNullOrEmpty(outcome.ProviderMessageId));
    }

    [Fact]
    public async Task SendAsync_ProviderNeverAnswers_IsTransientTimeout()
    {
        await using var services = TestHost.Services(null, ("Herald:Channels:HttpTimeout", "00:00:00.500"), ("Herald:Channels:SendTimeout", "00:00:00.500"));
        var connector = services.GetRequiredService<TConnector>();
        var account = Account(Peer.BaseUrl);
        Peer.Answer(Success.Status, Success.Body);
        Assert.Equal(SuccessKind, (await connector.SendAsync(TestHost.Message(Recipient), account, Ct)).Kind); // warm connection
        var arrived = Peer.Hang();

        var outcome = await connector.SendAsync(TestHost.Message(Recipient), account, Ct);

        Assert.True(arrived.Task.IsCompleted);
        Assert.Equal(SendOutcomeKind.TransientFailure, outcome.Kind);
        Assert.Equal("timeout", outcome.ErrorCode);
    }

    [Fact]
    public async Task SendAsync_ConnectionRefused_IsTransientNetwork()
    {
        var outcome = await Connector.SendAsync(TestHost.Message(Recipient), Account(ProviderPeer.ClosedPortUrl()), Ct);

        Assert.Equal(SendOutcomeKind.TransientFailure, outcome.Kind);
        Assert.Equal("network", outcome.ErrorCode);
    }

    [Fact]
    public async Task SendAsync_CallerCancels_CancellationPropagates()
    {
        var arrived = Peer.Hang();
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(Ct);

        var send = Connector.SendAsync(TestHost.Message(Recipient), Account(Peer.BaseUrl), cts.Token);
        await arrived.Task.WaitAsync(TimeSpan.FromSeconds(10), Ct);
        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => send);
    }
}
