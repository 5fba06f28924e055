using Herald.Channels.Sms.Smpp;

namespace Herald.Channels.Tests.Smpp;

public sealed class SmsTextTests
{
    [Theory]
    [InlineData("€", "1B65")]
    [InlineData("[", "1B3C")]
    [InlineData("]", "1B3E")]
    [InlineData("{", "1B28")]
    [InlineData("}", "1B29")]
    [InlineData("~", "1B3D")]
    [InlineData("^", "1B14")]
    [InlineData("|", "1B40")]
    [InlineData("\\", "1B2F")]
    [InlineData("@£$¥", "00010203")]
    [InlineData("Hello", "48656C6C6F")]
    public void Gsm_Vectors(string text, string hex)
    {
        Assert.Equal(hex, Convert.ToHexString(GsmAlphabet.Encode(text)));
        Assert.Equal(text, GsmAlphabet.Decode(Convert.FromHexString(hex)));
    }

    [Fact]
    public void ReferenceFor_IsTheSameForEverySendOfANotification_AndSpreadsOverTheByte()
    {
        var id = Guid.CreateVersion7();
        var encoded = SmsText.Encode(new string('x', 200), SmsText.ReferenceFor(id))!;

        Assert.Equal(SmsText.ReferenceFor(id), SmsText.ReferenceFor(new Guid(id.ToString())));
        Assert.All(encoded.Parts, part => Assert.Equal(SmsText.ReferenceFor(id), part[3]));
        // Ids made in the same millisecond differ only in their random bits; their references still spread.
        var references = Enumerable.Range(0, 2000).Select(_ => SmsText.ReferenceFor(Guid.CreateVersion7())).Distinct().Count();
        Assert.True(references > 200, $"only {references} distinct references in 2,000 ids");
    }

    [Fact]
    public void GreekAndAccents()
    {
        Assert.Equal("101511", Convert.ToHexString(GsmAlphabet.Encode("ΔΩ_")));
        Assert.Equal("5D7D7F60405F", Convert.ToHexString(GsmAlphabet.Encode("Ññà¿¡§")));
        Assert.Equal("0A0D0405", Convert.ToHexString(GsmAlphabet.Encode("\n\rèé")));
    }

    [Fact]
    public void Encode_GsmText_UsesDataCoding0_OneSeptetPerOctet()
    {
        var encoded = SmsText.Encode("Card *1234: 25.00€ at Café [ok]", 1)!;

        Assert.Equal(SmppFlags.DataCodingDefault, encoded.DataCoding);
        var part = Assert.Single(encoded.Parts);
        Assert.Equal(31 + 3, part.Length);   // € [ ] take two septets each
        Assert.Equal("Card *1234: 25.00€ at Café [ok]", SmsText.Decode(0, part));
    }

    [Theory]
    [InlineData("Ваша карта")]
    [InlineData("ok 😀")]
    [InlineData("`backtick`")]
    [InlineData("ç is fine but Ç ê is not")]
    public void Encode_NonGsmText_FallsBackToUcs2(string text)
    {
        var encoded = SmsText.Encode(text, 1)!;

        Assert.Equal(SmppFlags.DataCodingUcs2, encoded.DataCoding);
        Assert.Equal(text.Length * 2, Assert.Single(encoded.Parts).Length);
        Assert.Equal(text, SmsText.Decode(SmppFlags.DataCodingUcs2, encoded.Parts[0]));
    }

    [Fact]
    public void Gsm_160Septets_IsOneMessage_161IsTwoParts()
    {
        Assert.Single(SmsText.Encode(new string('a', 160), 1)!.Parts);
        Assert.Single(SmsText.Encode(new string('a', 158) + "€", 1)!.Parts);

        var two = SmsText.Encode(new string('a', 161), 9)!;
        Assert.Equal([6 + 153, 6 + 8], two.Parts.Select(static p => p.Length));
        Assert.Equal("050003090201", Convert.ToHexString(two.Parts[0][..6]));
        Assert.Equal("050003090202", Convert.ToHexString(two.Parts[1][..6]));
        Assert.True(two.IsConcatenated);
    }

    [Fact]
    public void Gsm_EscapePairAtAPartBoundary_MovesWholeToTheNextPart()
    {
        var encoded = SmsText.Encode(new string('a', 152) + "€" + new string('b', 10), 1)!;

        Assert.Equal(2, encoded.Parts.Count);
        Assert.Equal(6 + 152, encoded.Parts[0].Length);
        Assert.Equal([0x1B, 0x65], encoded.Parts[1][6..8]);
        Assert.NotEqual(0x1B, encoded.Parts[0][^1]);
    }

    [Fact]
    public void Ucs2_70UnitsIsOneMessage_71IsTwoPartsOf67()
    {
        Assert.Single(SmsText.Encode(new string('ж', 70), 1)!.Parts);

        var two = SmsText.Encode(new string('ж', 71), 1)!;
        Assert.Equal([6 + 134, 6 + 8], two.Parts.Select(static p => p.Length));
    }

    [Fact]
    public void Ucs2_SurrogatePairAtAPartBoundary_MovesWholeToTheNextPart()
    {
        var text = new string('ж', 66) + "😀" + new string('ж', 5);

        var encoded = SmsText.Encode(text, 1)!;

        Assert.Equal(2, encoded.Parts.Count);
        Assert.Equal(6 + 132, encoded.Parts[0].Length);
        Assert.Equal("😀", SmsText.Decode(SmppFlags.DataCodingUcs2, encoded.Parts[1][6..10]));
        Assert.Equal(text, Reassemble(encoded));
    }

    [Fact]
    public void Encode_MoreThan255Parts_IsRefused()
    {
        Assert.NotNull(SmsText.Encode(new string('a', 255 * 153), 1));
        Assert.Null(SmsText.Encode(new string('a', (255 * 153) + 1), 1));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void Encode_RandomTexts_ReassembleToTheOriginal(int seed)
    {
        var random = new Random(seed);
        const string alphabet = "abcXYZ 0123€[]{}~^|\\@£Δé😀жç\n";
        for (var i = 0; i < 300; i++)
        {
            var chars = new List<char>();
            var length = random.Next(0, 700);
            while (chars.Count < length)
            {
                var pick = random.Next(alphabet.Length);
                if (char.IsHighSurrogate(alphabet[pick]))
                {
                    chars.Add(alphabet[pick]);
                    chars.Add(alphabet[pick + 1]);
                }
                else if (!char.IsLowSurrogate(alphabet[pick]))
                {
                    chars.Add(alphabet[pick]);
                }
            }

            var text = new string([.. chars]);
            var encoded = SmsText.Encode(text, (byte)i)!;
            Assert.Equal(text, Reassemble(encoded));
            var max = encoded.DataCoding == SmppFlags.DataCodingDefault ? 160 : 140;
            Assert.All(encoded.Parts, p => Assert.InRange(p.Length, 0, max));
        }
    }

    [Fact]
    public void SplitUdh_Reads8And16BitReferences_AndIgnoresABrokenHeader()
    {
        var (c8, p8) = SmsText.SplitUdh([0x05, 0x00, 0x03, 0x7F, 0x03, 0x02, 0x41], udhi: true);
        Assert.Equal(new SmsConcatenation(0x7F, 3, 2), c8);
        Assert.Equal([0x41], p8);

        var (c16, _) = SmsText.SplitUdh([0x06, 0x08, 0x04, 0x12, 0x34, 0x02, 0x01, 0x41], udhi: true);
        Assert.Equal(new SmsConcatenation(0x1234, 2, 1), c16);

        var broken = new byte[] { 0x20, 0x00, 0x03 };
        Assert.Equal((null, broken), SmsText.SplitUdh(broken, udhi: true));
        Assert.Null(SmsText.SplitUdh([0x05, 0x00, 0x03, 1, 2, 1], udhi: false).Concatenation);
    }

    private static string Reassemble(SmsEncoding encoded) => string.Concat(encoded.Parts.Select(p =>
    {
        var (concat, payload) = SmsText.SplitUdh(p, encoded.IsConcatenated);
        Assert.Equal(encoded.IsConcatenated, concat is not null);
        return SmsText.Decode(encoded.DataCoding, payload);
    }));
}
