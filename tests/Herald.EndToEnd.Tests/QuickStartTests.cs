using System.Diagnostics;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Herald.EndToEnd.Tests.Infrastructure;

namespace Herald.EndToEnd.Tests;

/// <summary>
/// The README's quick start as a user meets it: the built server (src/Herald.Server's build output, run with
/// <c>dotnet Herald.Server.dll</c>) started in an empty directory with no settings but a free port. Its first start
/// creates <c>data/herald.db</c>, a tenant with sandbox accounts and a key in <c>data/demo-key</c>, and prints a curl
/// example; the printed commands, run with the real curl, deliver a message that shows in the sandbox. A second start
/// prints the same key and creates nothing new.
/// </summary>
public sealed class QuickStartTests(ITestOutputHelper output)
{
    [Fact]
    public async Task FirstStartOfTheBuiltServer_CreatesTheDemo_AndThePrintedCurlIsDelivered()
    {
        using var folder = new TempFolder();
        string key;
        await using (var server = await DemoServer.StartAsync(folder.Path, output, ["--urls", "http://127.0.0.1:0"]))
        {
            var banner = server.Banner;
            key = server.Key;
            Assert.False(string.IsNullOrEmpty(key), banner);
            Assert.Equal(key, (await File.ReadAllTextAsync(Path.Combine(folder.Path, "data", "demo-key"))).Trim());
            Assert.True(File.Exists(Path.Combine(folder.Path, "data", "herald.db")));

            // The tenant has one sandbox account per simulated channel.
            using var http = new HttpClient { BaseAddress = new Uri(server.BaseUrl) };
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
            var providers = (await http.GetFromJsonAsync<JsonArray>("/v1/providers"))!;
            var channels = providers.Select(p => p.Str("channel")).ToHashSet();
            Assert.Superset(new HashSet<string> { "whatsapp", "telegram", "sms", "email" }, channels);

            // "Paste the printed curl example": its answer is 202 {id, status: accepted}.
            var send = Command(banner, "/v1/notifications -H");
            var accepted = JsonNode.Parse(await CurlAsync(send))!.AsObject();
            Assert.Equal("accepted", accepted.Str("status"));
            var id = accepted.Str("id");

            // "Watch": the printed sandbox command lists what the simulated customer received.
            var watch = Command(banner, "/sandbox/messages?to=");
            await TestData.EventuallyAsync(
                async () => JsonNode.Parse(await CurlAsync(watch))!.AsArray(),
                messages => messages.Any(m => m.Str("text") == "You paid 12.50 EUR at Cafe Luna"),
                TimeSpan.FromSeconds(60), "the demo message in /sandbox/messages");

            // "Trace": the printed trace command with the id shows it delivered.
            var trace = Command(banner, "/v1/notifications/<id>").Replace("<id>", id, StringComparison.Ordinal);
            await TestData.EventuallyAsync(
                async () => JsonNode.Parse(await CurlAsync(trace))!.AsObject().Str("status"), status => status == "delivered",
                TimeSpan.FromSeconds(60), "the demo notification to be delivered");
        }

        // Every start prints the key; a second start reuses it and creates no second tenant.
        await using (var again = await DemoServer.StartAsync(folder.Path, output, ["--urls", "http://127.0.0.1:0"]))
        {
            Assert.Equal(key, again.Key);
            using var http = new HttpClient { BaseAddress = new Uri(again.BaseUrl) };
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
            Assert.Single((await http.GetFromJsonAsync<JsonObject>("/v1/notifications?limit=10"))!["items"]!.AsArray());
        }
    }

    /// <summary>The printed curl command containing <paramref name="marker"/>, with its continuation lines joined.</summary>
    private static string Command(string banner, string marker)
    {
        var lines = banner.Split('\n').Select(l => l.TrimEnd('\r')).ToList();
        var start = lines.FindIndex(l => l.TrimStart().StartsWith("curl ", StringComparison.Ordinal) && l.Contains(marker, StringComparison.Ordinal));
        Assert.True(start >= 0, $"no printed curl with {marker}:\n{banner}");
        var command = lines[start].Trim();
        for (var i = start + 1; command.EndsWith('\\') && i < lines.Count; i++)
        {
            command = command[..^1] + " " + lines[i].Trim();
        }

        return command;
    }

    /// <summary>Runs a printed command with the real curl through a shell, as a user pastes it.</summary>
    private async Task<string> CurlAsync(string command)
    {
        var info = new ProcessStartInfo("bash", ["-c", command]) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0, $"{command}\nexit {process.ExitCode}: {await stderr}");
        output.WriteLine($"$ {command}\n{await stdout}");
        return await stdout;
    }

}
