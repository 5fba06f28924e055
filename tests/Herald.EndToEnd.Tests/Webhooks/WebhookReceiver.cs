using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Herald.EndToEnd.Tests.Webhooks;

/// <summary>A bank's webhook endpoint on loopback: records what arrives; can be taken down and brought back on the same port.</summary>
public sealed class WebhookReceiver : IAsyncDisposable
{
    private WebApplication? _app;

    /// <summary>Holds the port from construction to the first start: bound but not listening, so connections are
    /// refused (the endpoint is down) and no other process can take the port meanwhile.</summary>
    private Socket? _hold;

    public WebhookReceiver()
    {
        _hold = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        _hold.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        Port = ((IPEndPoint)_hold.LocalEndPoint!).Port;
    }

    public int Port { get; }

    public string Url => $"http://127.0.0.1:{Port}/herald/events";

    /// <summary>Every request that reached the endpoint while it was up, in arrival order.</summary>
    public ConcurrentQueue<ReceivedWebhook> Received { get; } = new();

    /// <summary>Status the endpoint answers (200 unless a test wants it failing).</summary>
    public int Status { get; set; } = 200;

    public async Task StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder(["--urls", $"http://127.0.0.1:{Port}"]);
        builder.Logging.ClearProviders();
        var app = builder.Build();
        app.MapPost("/herald/events", async (HttpRequest request) =>
        {
            using var buffer = new MemoryStream();
            await request.Body.CopyToAsync(buffer);
            Received.Enqueue(new ReceivedWebhook(
                buffer.ToArray(),
                request.Headers["Herald-Signature"].ToString(),
                request.Headers["Herald-Event-Id"].ToString(),
                request.Headers["Herald-Delivery-Attempt"].ToString())
            {
                TraceParent = request.Headers["traceparent"].ToString(),
            });
            return Results.StatusCode(Status);
        });
        // Released only now, for Kestrel to bind the same port a moment later (a restart after StopAsync has the same
        // short gap: the endpoint comes back where the bank's URL points).
        _hold?.Dispose();
        _hold = null;
        await app.StartAsync();
        _app = app;
    }

    public async Task StopAsync()
    {
        if (_app is { } app)
        {
            _app = null;
            await app.StopAsync();
            await app.DisposeAsync();
        }
    }

    public async ValueTask DisposeAsync()
    {
        _hold?.Dispose();
        await StopAsync();
    }
}

public sealed record ReceivedWebhook(byte[] Body, string Signature, string EventId, string Attempt)
{
    /// <summary>The W3C traceparent header the request carried; empty when none.</summary>
    public string TraceParent { get; init; } = "";
}
