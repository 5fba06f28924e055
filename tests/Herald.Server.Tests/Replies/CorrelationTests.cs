using Herald.Channels.Callbacks;
using Herald.Core.Notifications;
using Herald.Core.Providers;
using Herald.Core.Routing;
using Herald.Server.Replies;

namespace Herald.Server.Tests.Replies;

/// <summary>What the one inbound entry point stores of a customer's message given the notification it answers (issue
/// #16): the tenant from the account, the choice from a button or the text, late after the reply time or when
/// cancelled. Pure: no store involved.</summary>
public sealed class CorrelationTests
{
    private static readonly DateTimeOffset T0 = new(2030, 1, 1, 8, 0, 0, TimeSpan.Zero);
    private static readonly Guid Tenant = Guid.Parse("0193a6c4-0000-7000-8000-0000000000c1");

    private static readonly ProviderAccount Account = new(
        Guid.Parse("0193a6c4-0000-7000-8000-0000000000a1"), Tenant, Channel.Sms, "twilio-sms", "sms", "{}", 1, true, T0);

    private static Notification Question(NotificationStatus status = NotificationStatus.Delivered) => new()
    {
        Id = Guid.Parse("0193a6c4-0000-7000-8000-0000000000f1"),
        TenantId = Tenant,
        Type = "fraud.alert",
        CustomerId = "ana",
        Contacts = new Contacts(Phone: "+4915112345678"),
        Priority = Priority.Critical,
        Route = new Route(Priority.Critical, []),
        Status = status,
        Progress = DeliveryProgress.Start,
        CreatedAt = T0,
        UpdatedAt = T0,
        Actions = [new("confirm", "Yes, it was me"), new("block", "No, block it")],
        ReplyUntil = T0.AddHours(1),
    };

    private static InboundMessage Sms(string text, DateTimeOffset at) => new(Channel.Sms, "+4915112345678", "SM1", at) { Text = text };

    [Theory]
    [InlineData("2", "block")]
    [InlineData("yes, it was me", "confirm")]
    [InlineData("what?", null)]
    public void Text_NamesAChoice_OrIsFreeText(string text, string? actionId)
    {
        var stored = InboundMessageProcessor.Correlate(Account, Sms(text, T0.AddMinutes(5)), Question(), Guid.Empty);

        Assert.Equal(actionId, stored.ActionId);
        Assert.Equal(Question().Id, stored.NotificationId);
        Assert.Equal("ana", stored.CustomerId);
        Assert.Equal(Tenant, stored.TenantId);
        Assert.False(stored.Late);
        Assert.Equal("notification.reply", stored.EventType);
    }

    [Fact]
    public void AButtonIdTheQuestionDoesNotOffer_IsNotTakenAsAChoice()
    {
        var tapped = new InboundMessage(Channel.WhatsApp, "+4915112345678", "wamid.1", T0) { ActionId = "transfer-all", Text = "Hi" };

        Assert.Null(InboundMessageProcessor.Correlate(Account, tapped, Question(), Guid.Empty).ActionId);
    }

    [Fact]
    public void AfterTheReplyTime_OrToACancelledNotification_IsLate()
    {
        Assert.True(InboundMessageProcessor.Correlate(Account, Sms("1", T0.AddHours(2)), Question(), Guid.Empty).Late);
        Assert.True(InboundMessageProcessor.Correlate(Account, Sms("1", T0), Question(NotificationStatus.Cancelled), Guid.Empty).Late);
        Assert.Equal("confirm", InboundMessageProcessor.Correlate(Account, Sms("1", T0.AddHours(2)), Question(), Guid.Empty).ActionId);
    }

    [Fact]
    public void UnstorableCharacters_AreReplaced_AndLongTextCapped_NeverRefused()
    {
        var hostile = Sms("a\0b\uD800c\uDC00d\uD83D\uDE00", T0);
        var huge = Sms(new string('x', 10_000), T0);

        var stored = InboundMessageProcessor.Correlate(Account, hostile, null, Guid.Empty);

        Assert.Equal("a\uFFFDb\uFFFDc\uFFFDd\uD83D\uDE00", stored.Text);
        Assert.True(Herald.Ingest.StorableText.IsStorable(stored.Text));
        Assert.Equal(InboundMessageProcessor.MaxTextLength, InboundMessageProcessor.Correlate(Account, huge, null, Guid.Empty).Text!.Length);
    }

    [Fact]
    public void Unlinked_IsACustomerMessageOfTheAccountsTenant()
    {
        var stored = InboundMessageProcessor.Correlate(Account, Sms("Who is this?", T0), null, Guid.Empty);

        Assert.Null(stored.NotificationId);
        Assert.Equal(Tenant, stored.TenantId);
        Assert.Equal("customer.message", stored.EventType);
        Assert.False(stored.Late);
    }
}
