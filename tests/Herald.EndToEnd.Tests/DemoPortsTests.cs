using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using Herald.EndToEnd.Tests.Infrastructure;

namespace Herald.EndToEnd.Tests;

/// <summary>
/// Issue #19: the embedded demo starts where its usual ports (HTTP 5000, sandbox SMTP 2525, SMPP 2775) are taken — a
/// second demo on the machine, or anything else on them — and its sandbox accounts keep working when a later start
/// lands on other ports. A port asked for explicitly that is taken ends the start with one line and exit code 2.
/// </summary>
[Collection(nameof(DemoPortsCollection))]
public sealed class DemoPortsTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task UsualPortsTaken_TheDemoStartsOnFreeOnes_SaysSo_AndDelivers()
    {
        using var folder = new TempFolder();
        using var held = Hold(5000, 2525, 2775);

        await using var server = await DemoServer.StartAsync(folder.Path, output, []);

        Assert.Contains("port 5000 is in use", server.Banner, StringComparison.Ordinal);
        Assert.Contains("port 2525 is in use", server.Banner, StringComparison.Ordinal);
        Assert.Contains("port 2775 is in use", server.Banner, StringComparison.Ordinal);
        Assert.DoesNotContain(":5000", server.BaseUrl, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", server.Banner, StringComparison.Ordinal);
        using var client = Client(server);
        await DeliversAsync(client, "email", new { email = "port-test@example.com" });
        await DeliversAsync(client, "whatsapp", new { phone = "+4915112345678" });
    }

    [Fact]
    public async Task ExplicitPortInUse_EndsTheStart_WithOneLineNamingTheSetting()
    {
        using var folder = new TempFolder();
        using var held = Hold(0);
        var port = held.Ports[0];

        var (smtpExit, smtpOutput) = await DemoServer.RunToExitAsync(folder.Path, ["--urls", "http://127.0.0.1:0", $"--Herald:Sandbox:SmtpPort={port}"]);
        var (httpExit, httpOutput) = await DemoServer.RunToExitAsync(folder.Path, ["--urls", $"http://127.0.0.1:{port}"]);

        output.WriteLine(smtpOutput + "\n---\n" + httpOutput);
        Assert.Equal(2, smtpExit);
        Assert.Contains($"herald: Herald:Sandbox:SmtpPort asks for port {port}, which is in use", smtpOutput, StringComparison.Ordinal);
        Assert.Equal(2, httpExit);
        Assert.Contains("herald: The listen address is in use", httpOutput, StringComparison.Ordinal);
        Assert.All([smtpOutput, httpOutput], o => Assert.DoesNotContain("   at ", o, StringComparison.Ordinal));
    }

    [Fact]
    public async Task RestartOnOtherPorts_TheEarlierSandboxAccountsStillDeliver()
    {
        using var folder = new TempFolder();
        string firstUrl;
        int firstSmtp;
        await using (var first = await DemoServer.StartAsync(folder.Path, output, ["--urls", "http://127.0.0.1:0"]))
        {
            firstUrl = first.BaseUrl;
            using var client = Client(first);
            firstSmtp = (await client.GetFromJsonAsync<JsonObject>("/sandbox/smtp"))!["port"]!.GetValue<int>();
            await DeliversAsync(client, "email", new { email = "before@example.com" });
        }

        // The SMTP port of the first run is taken now, and the API gets another free port.
        using var held = Hold(firstSmtp);
        await using var second = await DemoServer.StartAsync(folder.Path, output, ["--urls", "http://127.0.0.1:0"]);
        Assert.NotEqual(firstUrl, second.BaseUrl);
        using var again = Client(second);
        Assert.NotEqual(firstSmtp, (await again.GetFromJsonAsync<JsonObject>("/sandbox/smtp"))!["port"]!.GetValue<int>());
        await DeliversAsync(again, "email", new { email = "after@example.com" });
        await DeliversAsync(again, "whatsapp", new { phone = "+4915112345679" });
        await DeliversAsync(again, "telegram", new { telegramChatId = "4242" });
    }

    private static HttpClient Client(DemoServer server)
    {
        var client = new HttpClient { BaseAddress = new Uri(server.BaseUrl) };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", server.Key);
        return client;
    }

    private static async Task DeliversAsync(HttpClient client, string channel, object customer)
    {
        var id = await client.SendAsync(new { type = "card.transaction", channels = new[] { channel }, customer, data = new { text = "Paid 5.00" } });
        await client.WaitForStatusAsync(id, "delivered", Deadline);
    }

    /// <summary>Listens on each port (0: a free one) until disposed; a port another process holds already stays taken.</summary>
    private static HeldPorts Hold(params int[] ports)
    {
        var listeners = new List<TcpListener>();
        var taken = new List<int>();
        foreach (var port in ports)
        {
            var listener = new TcpListener(IPAddress.Loopback, port);
            try
            {
                listener.Start();
                listeners.Add(listener);
                taken.Add(((IPEndPoint)listener.LocalEndpoint).Port);
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.AddressAlreadyInUse)
            {
                taken.Add(port);   // someone else's: taken all the same
            }
        }

        return new HeldPorts(listeners, taken);
    }

    private sealed class HeldPorts(List<TcpListener> listeners, List<int> ports) : IDisposable
    {
        public IReadOnlyList<int> Ports => ports;

        public void Dispose() => listeners.ForEach(l => l.Stop());
    }
}

/// <summary>The usual ports are machine-wide: these tests hold them, so they run one at a time.</summary>
[CollectionDefinition(nameof(DemoPortsCollection), DisableParallelization = true)]
public sealed class DemoPortsCollection;
