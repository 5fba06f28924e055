using Herald.Core.Delivery;
using Herald.Core.Notifications;

namespace Herald.Core.Tests.Delivery;

/// <summary>Provider error texts keep what went wrong, not whom it was sent to (issue #17): vendors echo numbers, chat
/// ids and addresses, and the texts are stored in plaintext.</summary>
public sealed class ErrorTextTests
{
    [Theory]
    [InlineData("+4917612345678 is not a WhatsApp user", "[redacted] is not a WhatsApp user")]
    [InlineData("Recipient phone number 4915112345678 not in allowed list", "Recipient phone number [redacted] not in allowed list")]
    [InlineData("number +49 151 1234 5678 unreachable", "number [redacted] unreachable")]
    [InlineData("Bad Request: chat 123456789 not found", "Bad Request: chat [redacted] not found")]
    [InlineData("550 5.1.1 <Ana.Secret@example.com>: mailbox unavailable", "550 5.1.1 <[redacted]>: mailbox unavailable")]
    public void Scrub_MasksContacts_AndKeepsTheRest(string text, string expected) => Assert.Equal(expected, ErrorText.Scrub(text));

    [Theory]
    [InlineData("(#131047) Re-engagement message")]
    [InlineData("HTTP 503 after 30 s; code 0x0000000B")]
    [InlineData("rate limited: SM1234567890abcdef")]
    [InlineData("")]
    public void Scrub_KeepsCodesAndIds(string text) => Assert.Equal(text, ErrorText.Scrub(text));

    [Fact]
    public void Scrub_NullStaysNull_AndALongTextIsCapped()
    {
        Assert.Null(ErrorText.Scrub(null));
        Assert.Equal(ErrorText.MaxLength, ErrorText.Scrub(new string('x', 5000))!.Length);
    }

    [Fact]
    public void Attempt_KeepsItsErrorScrubbed_HoweverItIsSet()
    {
        var attempt = new Attempt
        {
            Id = Guid.NewGuid(), NotificationId = Guid.NewGuid(), Step = 0, Channel = Channel.WhatsApp, State = AttemptState.Failed,
            CreatedAt = DateTimeOffset.UnixEpoch, Error = "+4917612345678 is not a WhatsApp user",
        };

        Assert.Equal("[redacted] is not a WhatsApp user", attempt.Error);
        Assert.Equal("[redacted] again", (attempt with { Error = "+4917612345678 again" }).Error);
    }
}
