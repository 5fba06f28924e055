using Herald.Channels.Providers;
using Herald.Channels.Telegram;
using Herald.Channels.WhatsApp;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Herald.Channels.Tests;

public sealed class ChannelsServiceCollectionExtensionsTests
{
    [Fact]
    public async Task AddHeraldChannels_Defaults_ResolvesConnectorsDirectoryAndDispatcher()
    {
        await using var services = TestHost.Services();

        var connectors = services.GetServices<IChannelConnector>().ToArray();
        Assert.Contains(connectors, c => c is WhatsAppCloudConnector { Kind: "whatsapp-cloud" });
        Assert.Contains(connectors, c => c is TelegramBotConnector { Kind: "telegram-bot" });
        Assert.Contains(connectors, c => c is Herald.Channels.Email.SmtpEmailConnector { Kind: "smtp", Channel: Herald.Core.Notifications.Channel.Email });
        Assert.NotNull(services.GetRequiredService<ChannelDispatcher>());
        Assert.Same(services.GetRequiredService<ProviderDirectory>(), services.GetServices<Microsoft.Extensions.Hosting.IHostedService>().OfType<ProviderDirectory>().Single());
        Assert.Equal(TestHost.SendTimeout, services.GetRequiredService<IOptions<ChannelsOptions>>().Value.SendTimeout);
    }

    [Theory]
    [InlineData("Herald:Channels:SendTimeout", "00:00:00")]
    [InlineData("Herald:Channels:CircuitFailureRatio", "1.5")]
    [InlineData("Herald:Channels:CircuitMinimumThroughput", "1")]
    [InlineData("Herald:Channels:HttpTimeout", "00:00:01")]
    public async Task AddHeraldChannels_InvalidOptions_FailValidation(string key, string value)
    {
        await using var services = TestHost.Services(null, (key, value));

        Assert.Throws<OptionsValidationException>(() => services.GetRequiredService<IOptions<ChannelsOptions>>().Value);
    }

    [Theory]
    [InlineData("not a host!")]
    [InlineData("10.0.0.0/40")]
    [InlineData("relay.bank.internal:99999")]
    public async Task AddHeraldChannels_InvalidEgressAllowEntry_FailsValidation(string entry)
    {
        await using var services = TestHost.Services(null, ("Herald:Egress:Allow:1", entry));

        Assert.Throws<OptionsValidationException>(() => services.GetRequiredService<IOptions<Herald.Channels.Egress.EgressOptions>>().Value);
    }
}
