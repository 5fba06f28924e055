using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Herald.EndToEnd.Tests.Webhooks;

/// <summary>A bank's webhook endpoint on loopback: records what arrives; can be taken down and brought back on the same port.</summary>
public sealed class WebhookReceiver : IAsyncDisposable
{
    private WebApplication? _app;

    /// <summary>The port Kestrel bound at the first start (it picks a free one itself, so no other process can take it
    /// between a pick and the bind); later starts bind it again. 0 before the first start.</summary>
    public int Port { get; private set; }

    public string Url => Port == 0 ? throw new InvalidOperationException("Start the receiver first.") : $"http://127.0.0.1:{Port}/herald/events";

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
                request.Headers["Herald-Delivery-Attempt"].ToString()));
            return Results.StatusCode(Status);
        });
        await app.StartAsync();
        Port = new Uri(app.Urls.First()).Port;
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

    public ValueTask DisposeAsync() => new(StopAsync());
}

public sealed record ReceivedWebhook(byte[] Body, string Signature, string EventId, string Attempt);
