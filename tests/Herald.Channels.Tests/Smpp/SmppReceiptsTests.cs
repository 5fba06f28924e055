using System.Text;
using Herald.Channels.Sms.Smpp;
using Herald.Core.Delivery;

namespace Herald.Channels.Tests.Smpp;

public sealed class SmppReceiptsTests
{
    private static readonly DateTimeOffset At = new(2026, 11, 24, 23, 0, 0, TimeSpan.Zero);

    [Theory]
    [InlineData("same", "DEADBEEF", "3735928559", "DEADBEEF", "3735928559")]
    [InlineData("hex-submit-decimal-receipt", "DEADBEEF", "3735928559", "3735928559", "3735928559")]
    [InlineData("hex-submit-decimal-receipt", "00deadbeef", "0003735928559", "3735928559", "3735928559")]
    [InlineData("hex-submit-decimal-receipt", "ffffffffffffffff", "18446744073709551615", "18446744073709551615", "18446744073709551615")]
    [InlineData("decimal-submit-hex-receipt", "3735928559", "deadbeef", "3735928559", "3735928559")]
    [InlineData("hex-submit-decimal-receipt", "msg-42", "not a number", "msg-42", "not a number")]
    public void ReceiptIdFormat_MapsBothIdsToOneForm(string format, string submitted, string receipted, string storedSubmit, string storedReceipt)
    {
        var settings = SmppSettings.Parse($$"""{"host":"127.0.0.1","systemId":"bank","sourceAddr":"BANK","receiptIdFormat":"{{format}}"}""");

        Assert.Equal((storedSubmit, storedReceipt), (settings.SubmittedId(submitted), settings.ReceiptedId(receipted)));
    }

    [Fact]
    public void ReceiptIdFormat_Unknown_IsRefused()
    {
        var e = Assert.Throws<FormatException>(() => SmppSettings.Parse("""{"host":"127.0.0.1","systemId":"bank","sourceAddr":"BANK","receiptIdFormat":"octal"}"""));
        Assert.Contains("receiptIdFormat", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_ClassicText_WithoutTlvs()
    {
        var receipt = SmppReceipts.Parse(Receipt("id:0123456789 sub:001 dlvrd:001 submit date:2511242300 done date:2511242301 stat:DELIVRD err:000 text:Card *1234"))!;

        Assert.Equal(new SmppReceipt("0123456789", "DELIVRD", "000"), receipt);
        Assert.Equal(new ProviderReceipt("0123456789", ReceiptState.Delivered, At), receipt.ToProviderReceipt(At));
    }

    [Fact]
    public void Parse_TlvsWinOverTheText()
    {
        var message = Receipt("id:999 stat:DELIVRD err:000 text:x") with
        {
            Tlvs = [new SmppTlv(SmppTag.ReceiptedMessageId, [.. "a1b2c3"u8, 0]), new SmppTlv(SmppTag.MessageState, [SmppMessageState.Undeliverable])],
        };

        var receipt = SmppReceipts.Parse(message)!;

        Assert.Equal(("a1b2c3", "UNDELIV"), (receipt.MessageId, receipt.Stat));
        var failed = receipt.ToProviderReceipt(At)!;
        Assert.Equal(ReceiptState.Failed, failed.State);
    }

    [Theory]
    [InlineData("DELIVRD", ReceiptState.Delivered)]
    [InlineData("UNDELIV", ReceiptState.Failed)]
    [InlineData("REJECTD", ReceiptState.Failed)]
    [InlineData("EXPIRED", ReceiptState.Failed)]
    [InlineData("DELETED", ReceiptState.Failed)]
    [InlineData("ACCEPTD", null)]
    [InlineData("ENROUTE", null)]
    [InlineData("UNKNOWN", null)]
    public void Stat_MapsToReceiptState(string stat, ReceiptState? expected)
    {
        var receipt = SmppReceipts.Parse(Receipt($"id:m1 sub:001 dlvrd:000 submit date:2511242300 done date:2511242301 stat:{stat} err:001 text:"))!;

        Assert.Equal(expected, receipt.ToProviderReceipt(At)?.State);
        if (expected == ReceiptState.Failed)
        {
            Assert.Equal($"{stat}:001", receipt.ToProviderReceipt(At)!.ErrorCode);
        }
    }

    [Fact]
    public void Parse_NotAReceipt_OrWithoutId_IsNull()
    {
        Assert.Null(SmppReceipts.Parse(Receipt("id:1 stat:DELIVRD") with { EsmClass = 0 }));
        Assert.Null(SmppReceipts.Parse(Receipt("sub:001 stat:DELIVRD")));
    }

    [Fact]
    public void Parse_TextFieldMayContainFieldLikeWords()
    {
        var receipt = SmppReceipts.Parse(Receipt("id:42 sub:001 dlvrd:001 submit date:2511242300 done date:2511242301 stat:DELIVRD err:000 text:stat:UNDELIV id:7"))!;

        Assert.Equal(("42", "DELIVRD"), (receipt.MessageId, receipt.Stat));
    }

    [Fact]
    public void Format_WritesTheClassicText_ThatParseReads()
    {
        var text = SmppReceipts.Format("abc", "DELIVRD", "000", At, At.AddMinutes(1), 1, "a long text that is cut after twenty");

        Assert.Equal("id:abc sub:001 dlvrd:001 submit date:2611242300 done date:2611242301 stat:DELIVRD err:000 text:a long text that is ", text);
        Assert.Equal(new SmppReceipt("abc", "DELIVRD", "000"), SmppReceipts.Parse(Receipt(text)));
    }

    private static SmppShortMessage Receipt(string text) => new()
    {
        EsmClass = SmppFlags.EsmDeliveryReceipt,
        SourceAddr = "4915112345678",
        DestinationAddr = "BANK",
        ShortMessage = Encoding.ASCII.GetBytes(text),
    };
}
