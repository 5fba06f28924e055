using Herald.EndToEnd.Tests.Infrastructure;
using Herald.Server.Hosting;

namespace Herald.EndToEnd.Tests;

/// <summary>Issue 6: restarting the embedded server loses nothing that was accepted.</summary>
public sealed class EmbeddedRestartTests
{
    [Fact]
    public async Task AcceptedBeforeRestart_IsDeliveredAfterIt()
    {
        using var folder = new TempFolder();
        var settings = HeraldHost.SqliteSettings(folder.Path);
        var ids = new List<Guid>();
        HttpClient client;
        await using (var first = await HeraldHost.StartAsync(HeraldRole.Api, settings))
        {
            (_, client) = await first.CreateTenantAsync();
            for (var i = 0; i < 50; i++)
            {
                ids.Add(await client.SendAsync(new { type = "service.news", channels = new[] { "telegram" }, customer = new { telegramChatId = $"8{i:D4}" } }));
            }
        }

        // Same file, a new process-equivalent host with the worker running. The sandbox accounts point at the first
        // host's address, so the restarted host must listen there too.
        settings["Herald:PublicBaseUrl"] = null;
        await using var second = await HeraldHost.StartAsync(HeraldRole.All, settings, client.BaseAddress!.ToString());
        var restarted = second.Client(client.DefaultRequestHeaders.Authorization!.Parameter);
        foreach (var id in ids)
        {
            await restarted.WaitForStatusAsync(id, "delivered");
        }
    }
}
