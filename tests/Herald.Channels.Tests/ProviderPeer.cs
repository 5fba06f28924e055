using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Herald.Channels.Tests;

/// <summary>A request the peer received.</summary>
public sealed record PeerRequest(string Method, string Path, string? Authorization, string? ContentType, byte[] Body);

/// <summary>
/// A real HTTP server on 127.0.0.1:0 standing in for a vendor API: each test sets what it answers (the vendor's
/// documented bodies and status codes). An HTTP peer, not a mock of Herald's code.
/// </summary>
public sealed class ProviderPeer : IAsyncLifetime
{
    private WebApplication? _app;

    public ConcurrentQueue<PeerRequest> Requests { get; } = new();

    /// <summary>What the peer does with each request; defaults to 404.</summary>
    public Func<HttpContext, Task> Handler { get; set; } = static ctx =>
    {
        ctx.Response.StatusCode = 404;
        return Task.CompletedTask;
    };

    public Uri BaseUrl { get; private set; } = null!;

    public async ValueTask InitializeAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        _app = builder.Build();
        _app.Run(async ctx =>
        {
            using var buffer = new MemoryStream();
            await ctx.Request.Body.CopyToAsync(buffer, ctx.RequestAborted);
            Requests.Enqueue(new PeerRequest(
                ctx.Request.Method, ctx.Request.Path.Value ?? "", ctx.Request.Headers.Authorization.ToString() is { Length: > 0 } auth ? auth : null,
                ctx.Request.ContentType, buffer.ToArray()));
            await Handler(ctx);
        });
        await _app.StartAsync(TestContext.Current.CancellationToken);
        var address = _app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.First();
        BaseUrl = new Uri(address);
    }

    public async ValueTask DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.StopAsync(CancellationToken.None);
            await _app.DisposeAsync();
        }
    }

    /// <summary>Answers every request with this status, JSON body and optional headers.</summary>
    public void Answer(int status, string json, params (string Name, string Value)[] headers) =>
        Handler = async ctx =>
        {
            ctx.Response.StatusCode = status;
            foreach (var (name, value) in headers)
            {
                ctx.Response.Headers[name] = value;
            }

            ctx.Response.ContentType = "application/json; charset=UTF-8";
            await ctx.Response.WriteAsync(json, ctx.RequestAborted);
        };

    /// <summary>Answers every request with this status and an HTML body, as a proxy's error page does.</summary>
    public void AnswerHtml(int status, string html) =>
        Handler = async ctx =>
        {
            ctx.Response.StatusCode = status;
            ctx.Response.ContentType = "text/html";
            await ctx.Response.WriteAsync(html, ctx.RequestAborted);
        };

    /// <summary>Accepts the request and never answers until the client gives up; signals when a request arrived.</summary>
    public TaskCompletionSource Hang()
    {
        var arrived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Handler = async ctx =>
        {
            arrived.TrySetResult();
            try
            {
                await Task.Delay(Timeout.Infinite, ctx.RequestAborted);
            }
            catch (OperationCanceledException)
            {
            }
        };
        return arrived;
    }

    /// <summary>A loopback URL nobody listens on (connection refused), held so nobody can start listening there.</summary>
    public static Uri ClosedPortUrl() => new($"http://127.0.0.1:{Herald.Testing.ClosedPort.Reserve()}");
}
