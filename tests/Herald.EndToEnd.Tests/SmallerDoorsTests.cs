using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using Herald.EndToEnd.Tests.Infrastructure;
using Herald.Server.Authentication;
using Herald.Server.Hosting;
using Microsoft.Extensions.DependencyInjection;

namespace Herald.EndToEnd.Tests;

/// <summary>
/// Issue #13 item 6 over HTTP on real hosts: unauthenticated callbacks stop reading at their cap while the body is still
/// streaming in; /metrics and /openapi are off unless asked for and, with a management port, answer only there; a flood
/// of made-up API keys does not grow the key cache past its bound.
/// </summary>
public sealed class SmallerDoorsTests(PostgresFixture postgres)
{
    private const long Flood = 25L * 1024 * 1024;

    /// <summary>Where the flooding client stops and waits for the answer: a server that buffers the whole body never
    /// answers, one that enforces its cap while streaming answers once the cap (1 MiB) is crossed.</summary>
    private const long PauseAt = 4L * 1024 * 1024;

    public static TheoryData<string, string> Callbacks => new()
    {
        { "whatsapp", "application/json" },
        { "sms", "application/x-www-form-urlencoded" },
    };

    [Theory]
    [MemberData(nameof(Callbacks))]
    public async Task Callback_FloodedWithoutContentLength_Is413ProblemBeforeTheBodyEnds(string callback, string contentType)
    {
        await using var host = await HeraldHost.StartAsync(HeraldRole.All, HeraldHost.BaseSettings(await DatabaseAsync()));
        var (_, client) = await host.CreateTenantAsync();
        var path = callback == "whatsapp" ? "/callbacks/whatsapp" : "/callbacks/sms/" + await TwilioAccountAsync(client);
        var address = new Uri(host.BaseUrl);
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(address.Host, address.Port, TestContext.Current.CancellationToken);
        var stream = tcp.GetStream();

        // Chunked: no Content-Length for the server to refuse up front, so only a cap enforced while reading holds.
        // The client sends the first 4 MiB of a 25 MiB body and then waits for the answer: a server that buffers
        // the whole body before it checks the size never answers.
        var head = $"POST {path} HTTP/1.1\r\nHost: {address.Authority}\r\nContent-Type: {contentType}\r\nTransfer-Encoding: chunked\r\n\r\n";
        await stream.WriteAsync(Encoding.ASCII.GetBytes(head), TestContext.Current.CancellationToken);
        long sent = 0;
        var sending = Task.Run(async () =>
        {
            var chunk = Encoding.ASCII.GetBytes("10000\r\n" + new string('a', 0x10000) + "\r\n");
            try
            {
                while (Interlocked.Read(ref sent) < PauseAt)
                {
                    await stream.WriteAsync(chunk);
                    Interlocked.Add(ref sent, 0x10000);
                }
            }
            catch (IOException)
            {
                // The server answered and closed the connection: it read no further.
            }
            catch (ObjectDisposedException)
            {
                // The answer came while a chunk was still being written, and the test closed the connection.
            }
        });

        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var answer = new StringBuilder();
        var buffer = new byte[4096];
        try
        {
            while (!answer.ToString().Contains("\r\n\r\n", StringComparison.Ordinal))
            {
                var read = await stream.ReadAsync(buffer, deadline.Token);
                if (read == 0)
                {
                    break;
                }

                answer.Append(Encoding.ASCII.GetString(buffer, 0, read));
            }
        }
        catch (OperationCanceledException)
        {
            Assert.Fail($"No answer while the client held back the rest of the body (after {Interlocked.Read(ref sent) / 1024} KiB): the server waits for all of it.");
        }

        var sentWhenAnswered = Interlocked.Read(ref sent);
        tcp.Close();
        await sending;
        var status = answer.ToString().Split("\r\n")[0];
        TestContext.Current.SendDiagnosticMessage($"{callback}: '{status}' after the client had sent {sentWhenAnswered / 1024} KiB of {Flood / 1048576} MiB");
        Assert.StartsWith("HTTP/1.1 413", status, StringComparison.Ordinal);
        Assert.Contains("Content-Type: application/problem+json", answer.ToString(), StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task MetricsAndOpenApi_OffUnlessAsked_AndWithAManagementPort_OnlyThere()
    {
        var database = await DatabaseAsync();
        var off = HeraldHost.BaseSettings(database);
        off.Remove("Herald:Operations:ExposeMetrics");
        off.Remove("Herald:Operations:ExposeOpenApi");
        await using (var host = await HeraldHost.StartAsync(HeraldRole.All, off))
        {
            Assert.Equal(HttpStatusCode.NotFound, (await host.Client().GetAsync("/metrics")).StatusCode);
            Assert.Equal(HttpStatusCode.NotFound, (await host.Client().GetAsync("/openapi/v1.json")).StatusCode);
        }

        var (api, management) = (FreePort(), FreePort());
        var managed = HeraldHost.BaseSettings(database);
        managed["Herald:Operations:ManagementPort"] = management.ToString(System.Globalization.CultureInfo.InvariantCulture);
        await using var node = await HeraldHost.StartAsync(HeraldRole.All, managed, $"http://127.0.0.1:{api};http://127.0.0.1:{management}");
        using var onApi = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{api}") };
        using var onManagement = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{management}") };

        using var spoofed = new HttpRequestMessage(HttpMethod.Get, "/metrics");
        spoofed.Headers.Host = $"127.0.0.1:{management}";
        Assert.Equal(HttpStatusCode.NotFound, (await onApi.SendAsync(spoofed)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await onApi.GetAsync("/openapi/v1.json")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await onManagement.GetAsync("/metrics")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await onManagement.GetAsync("/openapi/v1.json")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await onApi.GetAsync("/healthz")).StatusCode);
    }

    [Fact]
    public async Task FloodOfRandomApiKeys_DoesNotGrowTheKeyCachePastItsBound_AndRealKeysStillWork()
    {
        const int bound = 50;
        var settings = HeraldHost.BaseSettings(await DatabaseAsync());
        settings["Herald:ApiKeyCacheEntries"] = bound.ToString(System.Globalization.CultureInfo.InvariantCulture);
        await using var host = await HeraldHost.StartAsync(HeraldRole.All, settings);
        var (_, client) = await host.CreateTenantAsync();
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/v1/templates")).StatusCode);
        var cache = host.Services.GetRequiredService<ApiKeyCache>();

        for (var i = 0; i < 400; i++)
        {
            using var stranger = host.Client("hk_" + Guid.NewGuid().ToString("N"));
            Assert.Equal(HttpStatusCode.Unauthorized, (await stranger.GetAsync("/v1/templates")).StatusCode);
            Assert.True(cache.Count <= 2 * bound, $"{cache.Count} cached keys after {i + 1} made-up ones (bound {bound} each).");
        }

        TestContext.Current.SendDiagnosticMessage($"key cache after 400 made-up keys: {cache.Count} entries (bound {bound} known + {bound} unknown)");
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/v1/templates")).StatusCode);
    }

    private async Task<string> DatabaseAsync() =>
        await postgres.CreateDatabaseAsync("doors_" + Guid.NewGuid().ToString("N")[..12], TestContext.Current.CancellationToken);

    private static async Task<Guid> TwilioAccountAsync(HttpClient client)
    {
        var providers = (await client.GetFromJsonAsync<JsonArray>("/v1/providers"))!;
        return providers.First(p => p!["kind"]!.GetValue<string>() == "twilio-sms")!["id"]!.GetValue<Guid>();
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
