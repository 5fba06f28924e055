using System.Security.Cryptography;
using System.Text.Json;
using Herald.Channels.Callbacks;
using Herald.Channels.Providers;
using Microsoft.Extensions.DependencyInjection;

namespace Herald.Channels.Tests;

/// <summary>The channel plug-ins (issue #15): what the catalog lists is what gets registered, and each plug-in's parts
/// agree with each other.</summary>
public sealed class ChannelCatalogTests
{
    private static readonly SandboxContext Sandbox = new(
        Guid.Parse("0191f0a4-1111-7aaa-8bbb-123456789abc"), "Acme Bank", "http://127.0.0.1:5000/sandbox", "http://127.0.0.1:5000",
        ("127.0.0.1", 2525), "bounces+", ("127.0.0.1", 2775),
        static (_, _) =>
        {
            // The host's provisioner is the FCM simulator's (a throwaway RSA key); any real key of that shape will do here.
            using var key = RSA.Create(2048);
            return JsonSerializer.Serialize(new Dictionary<string, string>
            {
                ["project_id"] = "sandbox-acme",
                ["client_email"] = "sa@sandbox-acme.iam.gserviceaccount.com",
                ["private_key"] = key.ExportPkcs8PrivateKeyPem(),
            });
        });

    [Fact]
    public async Task EveryPlugin_RegistersAConnectorOfItsKindAndChannel_AndNothingElseIsRegistered()
    {
        await using var services = TestHost.Services();
        var connectors = services.GetServices<IChannelConnector>().ToDictionary(static c => c.Kind);

        Assert.Equal(ChannelCatalog.All.Select(static p => p.Definition.Kind).Order(), connectors.Keys.Order());
        Assert.All(ChannelCatalog.All, p => Assert.Equal(p.Definition.Channel, connectors[p.Definition.Kind].Channel));
        Assert.Equal(ConnectorDefinitions.All.Select(static d => d.Kind).Order(), connectors.Keys.Order());
    }

    [Fact]
    public async Task EveryCallbackHandler_BelongsToACatalogKind_AndKindsHaveOneHandlerEach()
    {
        await using var services = TestHost.Services();
        var kinds = services.GetServices<IChannelCallbackHandler>().Select(static h => h.Kind).ToList();

        Assert.Equal(kinds.Distinct().Count(), kinds.Count);
        Assert.All(kinds, k => Assert.Contains(ChannelCatalog.All, p => p.Definition.Kind == k));
        Assert.Equal(["smtp", "telegram-bot", "twilio-sms", "whatsapp-cloud"], kinds.Order());
    }

    [Fact]
    public void EverySandboxTemplate_WritesSettingsItsOwnDefinitionAccepts()
    {
        foreach (var plugin in ChannelCatalog.All)
        {
            var account = Assert.IsType<SandboxAccount>(plugin.Sandbox?.Invoke(Sandbox));
            using var settings = JsonDocument.Parse(account.Settings);
            Assert.Empty(ConnectorDefinitions.Validate(plugin.Definition.Kind, settings.RootElement));
        }
    }

    [Fact]
    public void SandboxTemplates_OfSimulatorsThatDoNotRun_GiveNoAccount()
    {
        var without = Sandbox with { Smtp = null, Smpp = null };

        Assert.Equal(["fcm", "telegram-bot", "twilio-sms", "whatsapp-cloud"],
            ChannelCatalog.All.Where(p => p.Sandbox?.Invoke(without) is not null).Select(static p => p.Definition.Kind).Order());
    }
}
