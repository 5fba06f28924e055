using System.Text;
using Herald.Core.Notifications;
using Herald.Ingest.Native;

namespace Herald.Ingest.Tests;

public sealed class NotificationParserTests
{
    private static readonly Guid Tenant = Guid.NewGuid();

    private static (NewNotification? Notification, IReadOnlyList<InputError> Errors) Parse(string json, string? key = null) =>
        NotificationParser.Parse(Encoding.UTF8.GetBytes(json), Tenant, null, key);

    [Fact]
    public void Parse_CompleteNotification_MapsEveryField()
    {
        var (n, errors) = Parse("""
            {"type":"card.transaction","customer":{"id":"c-1","phone":"+4915112345678","telegramChatId":"42","email":"ana@example.com","language":"de"},
             "data":{"amount":"12.50","currency":"EUR"},"priority":"critical","channels":["telegram","sms"],
             "expiresAt":"2026-11-24T12:00:00+01:00","externalId":"tx-9"}
            """);

        Assert.Empty(errors);
        Assert.Equal("card.transaction", n!.Type);
        Assert.Equal("c-1", n.CustomerId);
        Assert.Equal("+4915112345678", n.Contacts.Phone);
        Assert.Equal("42", n.Contacts.TelegramChatId);
        Assert.Equal(Priority.Critical, n.RequestedPriority);
        Assert.Equal([Channel.Telegram, Channel.Sms], n.RequestedChannels!);
        Assert.Equal(new DateTimeOffset(2026, 11, 24, 11, 0, 0, TimeSpan.Zero), n.ExpiresAt);
        Assert.Equal(TimeSpan.Zero, n.ExpiresAt!.Value.Offset);
        Assert.Contains("\"amount\"", n.DataJson, StringComparison.Ordinal);
        Assert.Equal("ext:tx-9", n.DedupeKey);
        Assert.Equal(Tenant, n.TenantId);
    }

    [Fact]
    public void Parse_IdempotencyKeyHeader_WinsOverExternalId()
    {
        var (n, _) = Parse("""{"type":"otp","customer":{"phone":"+4915112345678"},"externalId":"x"}""", "key-1");

        Assert.Equal("key-1", n!.DedupeKey);
    }

    [Theory]
    [InlineData("""{"customer":{"phone":"+4915112345678"}}""", "/type")]
    [InlineData("""{"type":"Card Transaction","customer":{"phone":"+4915112345678"}}""", "/type")]
    [InlineData("""{"type":"otp"}""", "/customer")]
    [InlineData("""{"type":"otp","customer":{"phone":"015112345678"}}""", "/customer/phone")]
    [InlineData("""{"type":"otp","customer":{"phone":"+999123"}}""", "/customer/phone")]
    [InlineData("""{"type":"otp","customer":{"email":"not-an-email"}}""", "/customer/email")]
    [InlineData("""{"type":"otp","customer":{"telegramChatId":"abc"}}""", "/customer/telegramChatId")]
    [InlineData("""{"type":"otp","customer":{"language":"de"}}""", "/customer")]
    [InlineData("""{"type":"otp","customer":{"phone":"+4915112345678"},"data":[1]}""", "/data")]
    [InlineData("""{"type":"otp","customer":{"phone":"+4915112345678"},"channels":[]}""", "/channels")]
    [InlineData("""{"type":"otp","customer":{"phone":"+4915112345678"},"channels":["sms","sms"]}""", "/channels")]
    [InlineData("""{"type":"otp","customer":{"phone":"+4915112345678"},"channels":["pigeon"]}""", "/channels/0")]
    [InlineData("""{"type":"otp","customer":{"phone":"+4915112345678"},"priority":"urgent"}""", "/priority")]
    [InlineData("""{"type":"otp","customer":{"phone":"+4915112345678"},"colour":"red"}""", "/colour")]
    public void Parse_InvalidInput_ReportsLocatedError(string json, string pointer)
    {
        var (n, errors) = Parse(json);

        Assert.Null(n);
        Assert.Contains(errors, e => e.Pointer == pointer);
    }

    [Fact]
    public void Parse_BareCustomerId_IsAcceptedForLookupAtIngest()
    {
        var (n, errors) = Parse("""{"type":"otp","customer":{"id":"c-1"}}""");

        Assert.Empty(errors);
        Assert.Equal("c-1", n!.CustomerId);
        Assert.Equal(Contacts.None, n.Contacts);
    }

    [Fact]
    public void Parse_MalformedJson_ReportsError()
    {
        var (n, errors) = Parse("""{"type":"otp",""");

        Assert.Null(n);
        Assert.NotEmpty(errors);
    }

    [Fact]
    public void Parse_OversizedData_IsRejected()
    {
        var big = new string('x', NotificationParser.MaxDataBytes);
        var (n, errors) = Parse("""{"type":"otp","customer":{"phone":"+4915112345678"},"data":{"x":"BIG"}}""".Replace("BIG", big, StringComparison.Ordinal));

        Assert.Null(n);
        Assert.Contains(errors, e => e.Pointer == "/data");
    }

    [Theory]
    [InlineData("+4915112345678", "+4915112345678")]
    [InlineData("+14155552671", "+14155552671")]
    [InlineData("+44 20 7946 0958", null)]
    [InlineData("4915112345678", null)]
    public void NormalisePhone_AcceptsOnlyStrictE164(string raw, string? expected) =>
        Assert.Equal(expected, NotificationParser.NormalisePhone(raw));
}
