using Herald.Channels.Sms;
using Herald.Channels.WhatsApp;
using Herald.Core.Delivery;

namespace Herald.Channels.Tests;

public sealed class TwilioStatusCallbackTests
{
    // Twilio's documented example ("Validating requests"): auth token 12345, this URL and these POST parameters.
    private const string DocUrl = "https://mycompany.com/myapp.php?foo=1&bar=2";
    private const string DocToken = "12345";

    private static readonly KeyValuePair<string, string>[] DocParams =
    [
        new("CallSid", "CA1234567890ABCDE"),
        new("Caller", "+14158675309"),
        new("Digits", "1234"),
        new("From", "+14158675309"),
        new("To", "+18005551212"),
    ];

    private static readonly DateTimeOffset Received = new(2025, 6, 1, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public void VerifySignature_TwilioDocumentedExample_IsTrue()
    {
        Assert.Equal("RSOYDt4T1cUTdK1PDd93/VVr8B8=", TwilioStatusCallback.Sign(DocUrl, DocParams, DocToken));
        Assert.True(TwilioStatusCallback.VerifySignature(DocUrl, DocParams, "RSOYDt4T1cUTdK1PDd93/VVr8B8=", DocToken));
    }

    [Fact]
    public void VerifySignature_ParameterOrderOfTheRequest_DoesNotMatter()
    {
        Assert.True(TwilioStatusCallback.VerifySignature(DocUrl, DocParams.Reverse(), "RSOYDt4T1cUTdK1PDd93/VVr8B8=", DocToken));
    }

    [Fact]
    public void VerifySignature_TamperedParameter_IsFalse()
    {
        var tampered = DocParams.Select(p => p.Key == "Digits" ? new KeyValuePair<string, string>("Digits", "9999") : p);

        Assert.False(TwilioStatusCallback.VerifySignature(DocUrl, tampered, "RSOYDt4T1cUTdK1PDd93/VVr8B8=", DocToken));
    }

    [Fact]
    public void VerifySignature_AddedParameter_IsFalse()
    {
        Assert.False(TwilioStatusCallback.VerifySignature(DocUrl, [.. DocParams, new("ErrorCode", "30003")], "RSOYDt4T1cUTdK1PDd93/VVr8B8=", DocToken));
    }

    [Fact]
    public void VerifySignature_OtherUrl_IsFalse()
    {
        Assert.False(TwilioStatusCallback.VerifySignature("https://mycompany.com/myapp.php?foo=1&bar=3", DocParams, "RSOYDt4T1cUTdK1PDd93/VVr8B8=", DocToken));
    }

    [Theory]
    [InlineData("54321")]
    [InlineData("")]
    public void VerifySignature_WrongOrEmptyToken_IsFalse(string token)
    {
        Assert.False(TwilioStatusCallback.VerifySignature(DocUrl, DocParams, "RSOYDt4T1cUTdK1PDd93/VVr8B8=", token));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("not base64 at all")]
    [InlineData("RSOYDt4T1cUTdK1PDd93/VVr8B8")]
    public void VerifySignature_MissingOrMalformedHeader_IsFalse(string? header)
    {
        Assert.False(TwilioStatusCallback.VerifySignature(DocUrl, DocParams, header, DocToken));
    }

    [Theory]
    [InlineData("https://mycompany.com:443/myapp.php?foo=1&bar=2", "https://mycompany.com/myapp.php?foo=1&bar=2")]
    [InlineData("https://mycompany.com/myapp.php?foo=1&bar=2", "https://mycompany.com:443/myapp.php?foo=1&bar=2")]
    [InlineData("https://user:pass@mycompany.com/cb", "https://user:pass@mycompany.com:443/cb")]
    public void VerifySignature_DefaultPortShownDifferently_IsTrue(string signedUrl, string seenUrl)
    {
        var header = TwilioStatusCallback.Sign(signedUrl, DocParams, DocToken);

        Assert.True(TwilioStatusCallback.VerifySignature(seenUrl, DocParams, header, DocToken));
    }

    [Fact]
    public void VerifySignature_OtherPort_IsFalse()
    {
        var header = TwilioStatusCallback.Sign("https://mycompany.com:8443/cb", DocParams, DocToken);

        Assert.False(TwilioStatusCallback.VerifySignature("https://mycompany.com/cb", DocParams, header, DocToken));
    }

    [Fact]
    public void ParseForm_EncodedBody_DecodesPlusAndPercent()
    {
        var form = TwilioStatusCallback.ParseForm("To=%2B15558675310&Body=hello+world&MessageStatus=sent");

        Assert.Equal([new("To", "+15558675310"), new("Body", "hello world"), new("MessageStatus", "sent")], form);
    }

    [Fact]
    public void Parse_Delivered_IsDeliveredAtCarrierDoneDate()
    {
        var receipt = TwilioStatusCallback.Parse(Callback("delivered", ("RawDlrDoneDate", "2506011203")), Received);

        Assert.Equal(new ProviderReceipt("SM1342fe1b2c904d1ab04f0fc7a58abca9", ReceiptState.Delivered, new DateTimeOffset(2025, 6, 1, 12, 3, 0, TimeSpan.Zero)), receipt);
    }

    [Fact]
    public void Parse_Sent_IsSentAtReceiveTime()
    {
        var receipt = TwilioStatusCallback.Parse(Callback("sent"), Received);

        Assert.Equal(new ProviderReceipt("SM1342fe1b2c904d1ab04f0fc7a58abca9", ReceiptState.Sent, Received), receipt);
    }

    [Theory]
    [InlineData("undelivered", "30003")]
    [InlineData("failed", "30008")]
    public void Parse_UndeliveredOrFailed_IsFailedWithErrorCode(string status, string code)
    {
        var receipt = TwilioStatusCallback.Parse(Callback(status, ("ErrorCode", code)), Received);

        Assert.NotNull(receipt);
        Assert.Equal(ReceiptState.Failed, receipt.State);
        Assert.Equal(code, receipt.ErrorCode);
        Assert.Contains(code, receipt.Error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("queued")]
    [InlineData("sending")]
    [InlineData("accepted")]
    [InlineData("scheduled")]
    [InlineData("canceled")]
    public void Parse_NonReceiptStatus_IsNull(string status)
    {
        Assert.Null(TwilioStatusCallback.Parse(Callback(status), Received));
    }

    [Fact]
    public void Parse_WithoutMessageSid_Throws()
    {
        Assert.Throws<InvalidWebhookPayloadException>(() =>
            TwilioStatusCallback.Parse([new("MessageStatus", "delivered"), new("AccountSid", "AC1")], Received));
    }

    private static List<KeyValuePair<string, string>> Callback(string status, params (string Key, string Value)[] extra)
    {
        List<KeyValuePair<string, string>> form =
        [
            new("ApiVersion", "2010-04-01"),
            new("AccountSid", "ACXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"),
            new("From", "+15557122661"),
            new("To", "+15558675310"),
            new("MessageSid", "SM1342fe1b2c904d1ab04f0fc7a58abca9"),
            new("SmsSid", "SM1342fe1b2c904d1ab04f0fc7a58abca9"),
            new("MessageStatus", status),
            new("SmsStatus", status),
        ];
        form.AddRange(extra.Select(static e => new KeyValuePair<string, string>(e.Key, e.Value)));
        return form;
    }
}
