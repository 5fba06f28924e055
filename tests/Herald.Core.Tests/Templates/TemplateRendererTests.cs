using Herald.Core.Notifications;
using Herald.Core.Templates;

namespace Herald.Core.Tests.Templates;

public sealed class TemplateRendererTests
{
    private readonly TemplateRenderer _renderer = new();
    private static readonly Guid Tenant = Guid.NewGuid();

    private static MessageTemplate Make(string body, Channel channel = Channel.Sms, string? language = null, string? subject = null,
        WhatsAppTemplateMapping? whatsApp = null, string name = "card.transaction", int version = 1) =>
        new(Guid.NewGuid(), Tenant, name, channel, language, subject, body, whatsApp, version, default, default);

    private static RenderContext Context(string? language = null, string? zone = null, Dictionary<string, string>? customer = null) =>
        new(customer, language, zone is null ? null : TimeZoneInfo.FindSystemTimeZoneById(zone));

    [Fact]
    public void Render_DataCustomerAndType_AreInTheModel()
    {
        var t = Make("{{ type }}: {{ data.merchant }} {{ data.items[1] }} for {{ customer.name }} ({{ customer.segment }})");

        var rendered = _renderer.Render(t, "card.transaction", """{"merchant":"Loja","items":["a","b"]}""",
            Context(customer: new() { ["name"] = "Ana", ["segment"] = "premium" }));

        Assert.Equal("card.transaction: Loja b for Ana (premium)", rendered.Text);
        Assert.Null(rendered.Subject);
        Assert.Null(rendered.WhatsApp);
    }

    [Fact]
    public void Render_DoesNotHtmlEncode()
    {
        Assert.Equal("A&B <x>", _renderer.Render(Make("{{ data.s }}"), "t", """{"s":"A&B <x>"}""", Context()).Text);
    }

    [Fact]
    public void Render_HtmlPart_EncodesEveryValue_ButKeepsTheTemplatesMarkup()
    {
        var t = Make("{{ data.s }}", Channel.Email) with { Html = "<p>Paid at <b>{{ data.s }}</b> {{ data.amount | money: data.currency }}</p>" };

        var rendered = _renderer.Render(t, "t", """{"s":"<script>x</script> & Co","amount":5,"currency":"EUR"}""", Context("en"));

        Assert.Equal("<script>x</script> & Co", rendered.Text);
        Assert.Equal("<p>Paid at <b>&lt;script&gt;x&lt;/script&gt; &amp; Co</b> €5.00</p>", rendered.Html);
        Assert.Null(_renderer.Render(Make("x", Channel.Email), "t", "{}", Context()).Html);
    }

    [Fact]
    public void Validate_HtmlPart_IsCheckedAndLocated()
    {
        var errors = _renderer.Validate(Make("ok", Channel.Email) with { Html = "<p>{% if data.x %}open</p>" });

        Assert.Equal("html", Assert.Single(errors).Field);
    }

    [Theory]
    [InlineData("en", "€1,234.50")]
    [InlineData("de", "1.234,50 €")]
    [InlineData("de-AT", "1.234,50 €")]
    [InlineData("pt-BR", "R$ 1.234,50")]
    [InlineData(null, "1,234.50 EUR")]
    [InlineData("xx", "1,234.50 EUR")]
    public void Money_FormatsInTheCustomersLanguage(string? language, string expected)
    {
        var currency = expected.Contains("R$", StringComparison.Ordinal) ? "BRL" : "EUR";
        var text = _renderer.Render(Make("{{ data.amount | money: data.currency }}"), "t", $$"""{"amount":1234.5,"currency":"{{currency}}"}""", Context(language)).Text;

        Assert.Equal(expected, text);
    }

    [Fact]
    public void Masking_KeepsTheLastFour()
    {
        var text = _renderer.Render(Make("{{ data.card | mask_card }} / {{ data.iban | mask_account }} / {{ data.short | mask_card }}"), "t",
            """{"card":"4242 4242 4242 4242","iban":"DE89 3704 0044 0532 0130 00","short":"12"}""", Context()).Text;

        Assert.Equal("**** 4242 / ****3000 / ****", text);
    }

    [Fact]
    public void LocalDate_ShowsTheTimeInTheCustomersZoneAndFormat()
    {
        var t = Make("{{ data.at | local_date }}|{{ data.at | local_date: 'HH:mm' }}");

        var text = _renderer.Render(t, "t", """{"at":"2026-11-24T21:30:00Z"}""", Context("de", "Europe/Berlin")).Text;

        Assert.Equal("24.11.2026 22:30|22:30", text);
    }

    [Fact]
    public void Render_EmailSubjectAndWhatsAppParameters()
    {
        var email = Make("Body", Channel.Email, subject: "Paid {{ data.amount | money: 'EUR' }}\nsecond line");
        Assert.Equal("Paid €12.00 second line", _renderer.Render(email, "t", """{"amount":12}""", Context("en")).Subject);

        var mapping = new WhatsAppTemplateMapping("card_tx", "pt_BR", ["data.amount | money: data.currency", "{{ data.merchant | upcase }}"]);
        var rendered = _renderer.Render(Make("fallback", Channel.WhatsApp, whatsApp: mapping), "t", """{"amount":10,"currency":"BRL","merchant":"loja"}""", Context("pt-BR"));

        Assert.Equal("card_tx", rendered.WhatsApp!.Name);
        Assert.Equal("pt_BR", rendered.WhatsApp.Language);
        Assert.Equal(["R$ 10,00", "LOJA"], rendered.WhatsApp.Parameters);
    }

    [Fact]
    public void Validate_SyntaxError_ReportsFieldLineAndColumn()
    {
        var errors = _renderer.Validate(Make("Hello\n{% if data.x %} no end"));

        var error = Assert.Single(errors);
        Assert.Equal("body", error.Field);
        Assert.Equal(2, error.Line);
        Assert.NotNull(error.Column);
    }

    [Fact]
    public void Validate_UnknownFilterAndBadParameter_AreErrors()
    {
        var mapping = new WhatsAppTemplateMapping("n", "en", ["data.x", "data.y | nope"]);

        var errors = _renderer.Validate(Make("{{ data.x | shout }}", Channel.WhatsApp, whatsApp: mapping));

        Assert.Equal(["body", "whatsApp/parameters/1"], errors.Select(e => e.Field));
    }

    [Fact]
    public void Render_RunawayLoop_IsStoppedByTheStepBudget()
    {
        var t = Make("{% for i in (1..100000) %}{% for j in (1..100) %}x{% endfor %}{% endfor %}");

        Assert.NotEmpty(_renderer.Validate(t));
        Assert.ThrowsAny<Exception>(() => _renderer.Render(t, "t", "{}", Context()));
    }

    [Fact]
    public void Render_SameVersionIsParsedOnce_NewVersionIsParsedAgain()
    {
        var v1 = Make("one");
        Assert.Equal("one", _renderer.Render(v1, "t", "{}", Context()).Text);
        // Same id and version: the cached parse is used even if the text object differs.
        Assert.Equal("one", _renderer.Render(v1 with { Body = "two" }, "t", "{}", Context()).Text);
        Assert.Equal("two", _renderer.Render(v1 with { Body = "two", Version = 2 }, "t", "{}", Context()).Text);
    }

    [Fact]
    public void Select_FallsBackExactThenBaseThenDefaultThenAny()
    {
        var pt = Make("pt", language: "pt");
        var ptBr = Make("pt-BR", language: "pt-BR");
        var fallback = Make("default");
        var es = Make("es", language: "es");
        var de = Make("de", language: "de");
        var other = Make("x", Channel.Telegram, language: "fr");

        MessageTemplate[] all = [pt, ptBr, fallback, es, de, other];
        Assert.Same(ptBr, TemplateSelection.Select(all, "card.transaction", Channel.Sms, "pt-BR"));
        Assert.Same(pt, TemplateSelection.Select(all, "card.transaction", Channel.Sms, "pt-PT"));
        Assert.Same(fallback, TemplateSelection.Select(all, "card.transaction", Channel.Sms, "fr"));
        Assert.Same(fallback, TemplateSelection.Select(all, "card.transaction", Channel.Sms, null));
        Assert.Same(de, TemplateSelection.Select([es, de], "card.transaction", Channel.Sms, "fr"));
        Assert.Null(TemplateSelection.Select(all, "card.transaction", Channel.Email, "pt"));
        Assert.Null(TemplateSelection.Select(all, "otp", Channel.Sms, "pt"));
    }
}
