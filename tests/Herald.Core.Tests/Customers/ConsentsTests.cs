using Herald.Core.Customers;
using Herald.Core.Notifications;
using Herald.Core.Routing;

namespace Herald.Core.Tests.Customers;

/// <summary>Keyword matching, ledger addresses and the opt-out view routing reads (issue #16). Pure.</summary>
public sealed class ConsentsTests
{
    private static readonly TimeSpan T30 = TimeSpan.FromSeconds(30);
    private static readonly DateTimeOffset T0 = new(2030, 1, 1, 8, 0, 0, TimeSpan.Zero);
    private const string Phone = "+4915112345678";

    private static readonly Route Default = new(Priority.Normal,
    [
        new RouteStep(Channel.WhatsApp, WaitFor.Delivered, T30),
        new RouteStep(Channel.Sms, WaitFor.Sent, T30),
        new RouteStep(Channel.Email, WaitFor.Sent, T30),
    ]);

    private int _tick;

    [Theory]
    [InlineData("STOP", "STOP")]
    [InlineData("  stop  ", "STOP")]
    [InlineData("Stop.", "STOP")]
    [InlineData("ＳＴＯＰ", "STOP")] // full-width letters
    [InlineData("arre\u0302t", "ARRET")] // a decomposed circumflex
    [InlineData("Arrêt", "ARRET")] // precomposed
    [InlineData("ＳＴＯＰ！", "STOP")]
    [InlineData("Help!", "HELP")]
    public void Defaults_MatchTheWholeMessage_TrimmedCaseInsensitiveNormalised(string text, string word) =>
        Assert.Equal(word, KeywordSettings.Defaults.Match(text)?.Word);

    [Fact]
    public void Check_TheDefaults_AreStorableAsTheyAreShown() => Assert.Empty(KeywordSettings.Check(KeywordSettings.Defaults));

    [Theory]
    [InlineData("STOP IT")]
    [InlineData("please stop")]
    [InlineData("YES")]
    [InlineData("")]
    [InlineData("1")]
    public void Defaults_DoNotMatchSubstrings_NorYes(string text) => Assert.Null(KeywordSettings.Defaults.Match(text));

    [Fact]
    public void Stop_AlwaysOptsOut_EvenWhenTheTenantsListLeavesItOut()
    {
        var settings = new KeywordSettings([new Keyword("ALTO", KeywordAction.OptOut, "es")], KeywordSettings.Defaults.Texts);

        Assert.Equal(KeywordAction.OptOut, settings.Match("stop")!.Action);
        Assert.Null(settings.Match("UNSUBSCRIBE"));
        Assert.Equal([new KeywordError("/keywords/0/action", "STOP always opts out of every type on its channel: carriers require it.")],
            KeywordSettings.Check(new KeywordSettings([new Keyword("Stop", KeywordAction.Help)], KeywordSettings.Defaults.Texts)));
    }

    [Fact]
    public void TextsFor_FallsBackToThePrimarySubtag_ThenEnglish()
    {
        Assert.StartsWith("Sie sind abgemeldet", KeywordSettings.Defaults.TextsFor("de-AT").OptOut, StringComparison.Ordinal);
        Assert.StartsWith("You are unsubscribed", KeywordSettings.Defaults.TextsFor("ja").OptOut, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(Channel.Sms, "+49 151 1234-5678", Phone)]
    [InlineData(Channel.WhatsApp, "4915112345678", Phone)]
    [InlineData(Channel.Email, " Ana@Example.COM ", "ana@example.com")]
    [InlineData(Channel.Telegram, "0042", "42")]
    [InlineData(Channel.Sms, "not a phone", null)]
    [InlineData(Channel.Sms, "+0151", null)]
    [InlineData(Channel.Email, "no-at-sign", null)]
    public void Normalize_GivesTheLedgersForm(Channel channel, string raw, string? expected) =>
        Assert.Equal(expected, ConsentAddress.Normalize(channel, raw));

    [Fact]
    public void OptOuts_TheLatestEntryDecides_AndAnOptInOfEveryTypeLiftsEarlierOnes()
    {
        var view = ConsentOptOuts.From(
        [
            Entry(Channel.Sms, Phone, ConsentAction.OptOut, "marketing"),
            Entry(Channel.WhatsApp, Phone, ConsentAction.OptOut),
            Entry(Channel.Sms, "+4915100000002", ConsentAction.OptOut),
            Entry(Channel.Sms, Phone, ConsentAction.OptIn),
        ]);

        Assert.False(view.IsOptedOut(Channel.Sms, Phone, "marketing"));
        Assert.True(view.IsOptedOut(Channel.WhatsApp, Phone, "card.payment"));
        Assert.True(view.IsOptedOut(Channel.Sms, "+4915100000002", "card.payment"));
        Assert.False(view.IsOptedOut(Channel.Email, Phone, "card.payment"));
        // A redacted (erased) address matches nothing.
        Assert.Equal(0, ConsentOptOuts.From([Entry(Channel.Sms, ConsentAddress.Redacted, ConsentAction.OptOut)]).Count);
    }

    [Fact]
    public void Apply_DropsTheStepWhoseAddressOptedOut_ByTheNormalisedAddress()
    {
        var view = ConsentOptOuts.From([Entry(Channel.Sms, Phone, ConsentAction.OptOut), Entry(Channel.WhatsApp, Phone, ConsentAction.OptOut, "marketing")]);
        var contacts = new Contacts(Phone: "+49 151 12345678", Email: "ana@example.com");

        Assert.Equal([Channel.WhatsApp, Channel.Email], view.Apply(Default, contacts, "card.payment").Steps.Select(s => s.Channel));
        Assert.Equal([Channel.Email], view.Apply(Default, contacts, "marketing").Steps.Select(s => s.Channel));
        Assert.Same(Default, view.Apply(Default, new Contacts(Phone: "+4915100000002"), "marketing"));
    }

    private ConsentEntry Entry(Channel channel, string address, ConsentAction action, string? type = null) =>
        new(Guid.CreateVersion7(T0.AddMilliseconds(++_tick)), Guid.Empty, null, channel, address, type, action, ConsentSource.Keyword,
            ConsentEntry.CustomerActor, T0, null);
}
