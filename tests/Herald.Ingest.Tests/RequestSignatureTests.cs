using System.Text;
using Herald.Ingest.Signing;

namespace Herald.Ingest.Tests;

public sealed class RequestSignatureTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 24, 12, 0, 0, TimeSpan.Zero);
    private static readonly byte[] Body = Encoding.UTF8.GetBytes("""{"type":"otp"}""");

    private static SignatureCheck Check(string secret, string? header, long timestamp, byte[] body)
    {
        using var hmac = RequestSignature.Start(secret, timestamp);
        hmac.AppendData(body);
        return RequestSignature.Verify(header, hmac.GetHashAndReset(), out _);
    }

    /// <summary>docs/INTEGRATIONS.md's recipe, computed once with openssl, not with Herald:
    /// <c>printf '%s' '1764000000.{"type":"otp"}' | openssl dgst -sha256 -hmac whsec_example</c>.</summary>
    private const string DocumentedRecipeHeader = "v1=97244a62bd95553684cd34bb4040ee62fed734c7100a969f2730c00d0fcb60f3";

    [Fact]
    public void Sign_KnownAnswerOfTheDocumentedRecipe_SignsAndVerifies()
    {
        const string secret = "whsec_example";
        const long ts = 1764000000;

        Assert.Equal(DocumentedRecipeHeader, RequestSignature.Sign(secret, ts, Body));
        Assert.Equal(SignatureCheck.Valid, Check(secret, DocumentedRecipeHeader, ts, Body));
        Assert.Equal(("X-Herald-Timestamp", "X-Herald-Signature"), (RequestSignature.TimestampHeader, RequestSignature.SignatureHeader));
        // Another format of the same MAC is not accepted: upper-case scheme, no scheme, base64.
        Assert.NotEqual(SignatureCheck.Valid, Check(secret, "V1=" + DocumentedRecipeHeader[3..], ts, Body));
        Assert.NotEqual(SignatureCheck.Valid, Check(secret, DocumentedRecipeHeader[3..], ts, Body));
        Assert.NotEqual(SignatureCheck.Valid, Check(secret, "v1=" + Convert.ToBase64String(Convert.FromHexString(DocumentedRecipeHeader[3..])), ts, Body));
    }

    [Fact]
    public void Verify_SignatureOfTheSender_IsValid_EvenWhenTheBodyArrivesInPieces()
    {
        var secret = RequestSignature.NewSecret();
        var ts = Now.ToUnixTimeSeconds();
        var header = RequestSignature.Sign(secret, ts, Body);

        using var hmac = RequestSignature.Start(secret, ts);
        hmac.AppendData(Body.AsSpan(0, 3));
        hmac.AppendData(Body.AsSpan(3));
        Assert.Equal(SignatureCheck.Valid, RequestSignature.Verify(header, hmac.GetHashAndReset(), out var matched));
        Assert.Equal(32, matched!.Length);
    }

    [Fact]
    public void Verify_TamperedBodyOtherTimestampOrOtherSecret_IsAMismatch()
    {
        var secret = RequestSignature.NewSecret();
        var ts = Now.ToUnixTimeSeconds();
        var header = RequestSignature.Sign(secret, ts, Body);

        Assert.Equal(SignatureCheck.Mismatch, Check(secret, header, ts, Encoding.UTF8.GetBytes("""{"type":"otq"}""")));
        Assert.Equal(SignatureCheck.Mismatch, Check(secret, header, ts + 1, Body));
        Assert.Equal(SignatureCheck.Mismatch, Check(RequestSignature.NewSecret(), header, ts, Body));
    }

    [Fact]
    public void Verify_OneOfSeveralValues_Matches_ForSecretRotation()
    {
        var oldSecret = RequestSignature.NewSecret();
        var newSecret = RequestSignature.NewSecret();
        var ts = Now.ToUnixTimeSeconds();
        var header = RequestSignature.Sign(oldSecret, ts, Body) + ", " + RequestSignature.Sign(newSecret, ts, Body);

        Assert.Equal(SignatureCheck.Valid, Check(newSecret, header, ts, Body));
    }

    [Theory]
    [InlineData(null, SignatureCheck.Missing)]
    [InlineData("", SignatureCheck.Missing)]
    [InlineData("sha256=abc", SignatureCheck.Malformed)]
    [InlineData("v1=zz", SignatureCheck.Malformed)]
    [InlineData("v1=zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz", SignatureCheck.Malformed)]
    public void Verify_MissingOrMalformedHeader_IsSaid(string? header, SignatureCheck expected)
    {
        Assert.Equal(expected, Check("s", header, 1, Body));
    }

    [Theory]
    [InlineData(0, SignatureCheck.Valid)]
    [InlineData(299, SignatureCheck.Valid)]
    [InlineData(-299, SignatureCheck.Valid)]
    [InlineData(301, SignatureCheck.OutsideWindow)]
    [InlineData(-301, SignatureCheck.OutsideWindow)]
    public void CheckTimestamp_AllowsTheWindowEitherWay(int offsetSeconds, SignatureCheck expected)
    {
        var header = (Now.ToUnixTimeSeconds() + offsetSeconds).ToString(System.Globalization.CultureInfo.InvariantCulture);

        Assert.Equal(expected, RequestSignature.CheckTimestamp(header, Now, TimeSpan.FromMinutes(5), out _));
    }

    [Theory]
    [InlineData(null, SignatureCheck.Missing)]
    [InlineData("-5", SignatureCheck.Malformed)]
    [InlineData("12.5", SignatureCheck.Malformed)]
    [InlineData("99999999999999999999", SignatureCheck.Malformed)]
    public void CheckTimestamp_Malformed_IsSaid(string? header, SignatureCheck expected)
    {
        Assert.Equal(expected, RequestSignature.CheckTimestamp(header, Now, TimeSpan.FromMinutes(5), out _));
    }

    [Fact]
    public void NormaliseFingerprint_IgnoresColonsAndCase()
    {
        Assert.Equal("ABCDEF01", RequestSignature.NormaliseFingerprint("ab:cd:EF:01"));
    }
}
