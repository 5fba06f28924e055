using Herald.Core.Notifications;
using Herald.Core.Templates;

namespace Herald.Core.Tests.Templates;

/// <summary>
/// Issue #13 item 3: a template of a few hundred bytes must not be able to fill the shared heap. Each bomb is stopped
/// while it renders (the allocations of the whole rendering stay within a few megabytes) with a
/// <see cref="TemplateLimitException"/> whose code says why.
/// </summary>
public sealed class TemplateBombTests
{
    /// <summary>Allocations one stopped rendering may make: the largest value cap (email, 1 Mi characters) a few times
    /// over. Before the fix the doubling bomb alone allocated 320 MB.</summary>
    private const long AllocationBudget = 24L * 1024 * 1024;

    private readonly TemplateRenderer _renderer = new();

    public static TheoryData<string, string, Channel> Bombs => new()
    {
        // The example: a string doubled in a loop (67 MB in 1.1 s before the fix).
        { "{% assign s = 'xxxxxxxxxx' %}{% for i in (1..30) %}{% assign s = s | append: s %}{% endfor %}{{ s | size }}", TemplateLimitException.TooLarge, Channel.Sms },
        { "{% assign s = 'xxxxxxxxxx' %}{% for i in (1..30) %}{% capture s %}{{ s }}{{ s }}{% endcapture %}{% endfor %}{{ s | size }}", TemplateLimitException.TooLarge, Channel.Email },
        { "{% capture s %}{% for i in (1..9000) %}xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx{% endfor %}{% endcapture %}{{ s | size }}", TemplateLimitException.TooLarge, Channel.Sms },
        { "{% assign a = 'a,b' | split: ',' %}{% for i in (1..30) %}{% assign a = a | concat: a %}{% endfor %}{{ a | size }}", TemplateLimitException.TooLarge, Channel.Telegram },
        { "{{ (1..50000000) | join: ',' | size }}", TemplateLimitException.Budget, Channel.Sms },
        { "{% for i in (1..50000000) %}{% endfor %}", TemplateLimitException.Budget, Channel.Sms },
        { "{% assign s = 'xxxxxxxxxxxxxxxxxxxx' %}{% for i in (1..11) %}{% assign s = s | append: s %}{% endfor %}{{ s | replace: 'x', s | size }}", TemplateLimitException.TooLarge, Channel.Email },
        { "{% assign s = 'xxxxxxxxxxxxxxxxxxxx' %}{% for i in (1..11) %}{% assign s = s | append: s %}{% endfor %}{% assign a = s | split: '' %}{{ a | join: s | size }}", TemplateLimitException.TooLarge, Channel.Email },
        { "{{ 'now' | date: '%99999999Y' | size }}", TemplateLimitException.TooLarge, Channel.Sms },
        { "{% for i in (1..9000) %}xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx{% endfor %}", TemplateLimitException.TooLarge, Channel.WhatsApp },
        { "{% for i in (1..100) %}{% for j in (1..100) %}{% for k in (1..100) %}{% endfor %}{% endfor %}{% endfor %}", TemplateLimitException.Budget, Channel.Sms },
    };

    [Theory]
    [MemberData(nameof(Bombs))]
    public void Bomb_IsStoppedWhileRendering_WithinAFewMegabytes(string source, string code, Channel channel)
    {
        var template = new MessageTemplate(Guid.NewGuid(), Guid.NewGuid(), "bomb", channel, null, null, source, null, 1, default, default);

        var before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<TemplateLimitException>(() => _renderer.Render(template, "bomb", "{}", new RenderContext(null, null, null)));
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        TestContext.Current.SendDiagnosticMessage($"{channel} {code}: {allocated / 1024} KiB allocated, \"{e.Message}\"");
        Assert.Equal(code, e.Code);
        Assert.Equal("body", e.Field);
        Assert.True(allocated < AllocationBudget, $"The rendering allocated {allocated / 1048576} MB before it was stopped.");
    }

    [Theory]
    [InlineData(Channel.Sms, TemplateLimits.SmsText)]
    [InlineData(Channel.WhatsApp, TemplateLimits.WhatsAppText)]
    [InlineData(Channel.Telegram, TemplateLimits.TelegramText)]
    public void Output_UpToTheChannelsCap_Renders_OneMoreIsRefused(Channel channel, int cap)
    {
        var fits = Make(channel, new string('x', cap - 10) + "{{ data.tail }}");

        Assert.Equal(cap, _renderer.Render(fits, "t", """{"tail":"0123456789"}""", new RenderContext(null, null, null)).Text.Length);
        var e = Assert.Throws<TemplateLimitException>(() => _renderer.Render(fits, "t", """{"tail":"0123456789X"}""", new RenderContext(null, null, null)));
        Assert.Equal(TemplateLimitException.TooLarge, e.Code);
    }

    [Fact]
    public void Push_IsCountedInUtf8Bytes()
    {
        var template = Make(Channel.Push, "{{ data.text }}");

        Assert.NotNull(_renderer.Render(template, "t", $$"""{"text":"{{new string('é', 2048)}}"}""", new RenderContext(null, null, null)));
        var e = Assert.Throws<TemplateLimitException>(() => _renderer.Render(template, "t", $$"""{"text":"{{new string('é', 2049)}}"}""", new RenderContext(null, null, null)));
        Assert.Contains("UTF-8 bytes", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_TextAlreadyOverTheChannelsCap_IsALocatedLimitError()
    {
        var errors = _renderer.Validate(Make(Channel.Sms, new string('x', TemplateLimits.SmsText + 1)));

        var error = Assert.Single(errors);
        Assert.Equal("body", error.Field);
        Assert.Equal(TemplateLimitException.TooLarge, error.Code);
        Assert.Contains("10 SMS segments", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_ABombFromNothing_IsRefusedAtSave()
    {
        var errors = _renderer.Validate(Make(Channel.Sms, "{% assign s = 'xxxxxxxxxx' %}{% for i in (1..30) %}{% assign s = s | append: s %}{% endfor %}{{ s }}"));

        Assert.Equal(TemplateLimitException.TooLarge, Assert.Single(errors).Code);
    }

    [Theory]
    [InlineData("{{ 'a,b,c' | split: ',' | join: '-' }} {{ 'abc' | replace: 'b', 'xyz' }} {% for i in (1..3) %}{{ i }}{% endfor %}", "a-b-c axyzc 123")]
    [InlineData("{% capture c %}{% for i in (2..4) %}{{ i }},{% endfor %}{% endcapture %}[{{ c }}] {{ 0 | date: '%Y' }}", "[2,3,4,] 1970")]
    public void OrdinaryTemplates_StillRender(string source, string expected)
    {
        Assert.Equal(expected, _renderer.Render(Make(Channel.Sms, source), "t", "{}", new RenderContext(null, null, null)).Text);
    }

    [Theory]
    [InlineData("{{ 'x{0,999999}' | format_string: 1 }}")]
    [InlineData("{{ 1 | format_number: 'D9999999' }}")]
    public void FormatFiltersWithTemplateChosenWidths_AreNotAvailable(string source)
    {
        var error = Assert.Single(_renderer.Validate(Make(Channel.Sms, source)));
        Assert.Null(error.Code);
    }

    private static MessageTemplate Make(Channel channel, string body) =>
        new(Guid.NewGuid(), Guid.NewGuid(), "t", channel, null, null, body, null, 1, default, default);
}
