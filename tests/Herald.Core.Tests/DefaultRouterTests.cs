using Herald.Core.Notifications;
using Herald.Core.Routing;

namespace Herald.Core.Tests;

public sealed class DefaultRouterTests
{
    private static readonly DefaultRouter Router = new(new DefaultRouteOptions { WhatsAppReceiptTimeout = TimeSpan.FromSeconds(7) });

    private static NewNotification Make(string type, Contacts contacts, Priority? priority = null, IReadOnlyList<Channel>? channels = null) =>
        new(Guid.NewGuid(), null, type, null, contacts, "{}", priority, channels, null, null, null);

    [Theory]
    [InlineData("otp", Priority.Critical)]
    [InlineData("fraud.alert", Priority.Critical)]
    [InlineData("card.transaction", Priority.High)]
    [InlineData("account.balance", Priority.Normal)]
    [InlineData("service.news", Priority.Normal)]
    public void Decide_WithoutRequestedPriority_UsesTypeDefault(string type, Priority expected) =>
        Assert.Equal(expected, Router.Decide(Make(type, new Contacts(Phone: "+4915112345678"))).Priority);

    [Fact]
    public void Decide_RequestedPriority_Wins() =>
        Assert.Equal(Priority.Low, Router.Decide(Make("otp", new Contacts(Phone: "+4915112345678"), Priority.Low)).Priority);

    [Fact]
    public void Decide_DefaultPlan_OrdersChannelsAndSkipsMissingAddresses()
    {
        var route = Router.Decide(Make("card.transaction", new Contacts(Phone: "+4915112345678", Email: "a@b.test")));

        Assert.Equal([Channel.WhatsApp, Channel.Sms, Channel.Email], route.Steps.Select(s => s.Channel));
        Assert.Equal(WaitFor.Delivered, route.Steps[0].WaitFor);
        Assert.Equal(TimeSpan.FromSeconds(7), route.Steps[0].Timeout);
        Assert.Equal(WaitFor.Sent, route.Steps[1].WaitFor);
    }

    [Fact]
    public void Decide_RequestedChannels_ReplaceDefaultPlan()
    {
        var route = Router.Decide(Make("otp", new Contacts(Phone: "+4915112345678", TelegramChatId: "1"), channels: [Channel.Sms, Channel.Telegram]));

        Assert.Equal([Channel.Sms, Channel.Telegram], route.Steps.Select(s => s.Channel));
    }
}
