using Herald.Core.Rules;

namespace Herald.Core.Tests.Rules;

public sealed class ValidationTests
{
    private static RuleValidationError Single(string json)
    {
        var errors = RuleSetValidator.Validate(json);
        return Assert.Single(errors);
    }

    private static string OneRule(string when) =>
        $$$"""{"rules": [{"name": "ok", "then": {"priority": "low"}}, {"name": "bad", "when": {{{System.Text.Json.JsonSerializer.Serialize(when)}}}, "then": {"priority": "high"}}]}""";

    [Theory]
    [InlineData("\"abc\" > 5", 6, "Cannot compare text with a number")]
    [InlineData("type == 'otp' and data.amount >", 31, "ends too early")]
    [InlineData("foo(data.x)", 0, "Unknown function 'foo'")]
    [InlineData("dta.amount > 5", 0, "Unknown name 'dta'")]
    [InlineData("now.hours == 3", 4, "'now' needs one of the fields")]
    [InlineData("type.name == 'x'", 5, "'type' has no fields")]
    [InlineData("priority == 'urgent'", 12, "Unknown priority \"urgent\"")]
    [InlineData("data.amount = 5", 12, "write '=='")]
    [InlineData("data.amount > 5 data.x", 16, "did you forget 'and' or 'or'")]
    [InlineData("1 < data.x < 5", 11, "cannot be chained")]
    [InlineData("data.amount + 5", 0, "must be true or false")]
    [InlineData("type == 'otp' and data.amount * 2", 18, "'and' needs a condition")]
    [InlineData("startsWith(type)", 0, "startsWith takes 2 arguments")]
    [InlineData("len(5) > 1", 4, "len works on text")]
    [InlineData("matches(type, data.pattern)", 14, "must be fixed text")]
    [InlineData("matches(type, '([a-z')", 14, "Invalid regular expression")]
    [InlineData("data.amount > 5x", 14, "not a number or a duration")]
    [InlineData("type == 'otp", 8, "never closed")]
    [InlineData("type in ['otp', 5]", 16, "This list holds a number")]
    [InlineData("true > false", 5, "true/false values can only be compared with == or !=")]
    [InlineData("data.x > null", 7, "null can only be tested")]
    [InlineData("5m > 3", 3, "Cannot compare a duration with a number")]
    [InlineData("'a' + 'b' == 'ab'", 4, "arithmetic works on numbers and durations")]
    public void Validate_BadCondition_ReportsRuleFieldAndPosition(string when, int position, string message)
    {
        var error = Single(OneRule(when));

        Assert.Equal(1, error.RuleIndex);
        Assert.Equal("bad", error.RuleName);
        Assert.Equal("/rules/1/when", error.Field);
        Assert.Equal(position, error.Position);
        Assert.Contains(message, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_DeepNesting_RejectedAtTheLevelThatExceedsTheCap()
    {
        var when = new string('(', 100) + "true" + new string(')', 100);

        var error = Single(OneRule(when));

        Assert.Equal("/rules/1/when", error.Field);
        Assert.Equal(64, error.Position);
        Assert.Contains("nests deeper than 64", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_DeepNotChain_Rejected() =>
        Assert.Contains("nests deeper", Single(OneRule(string.Concat(Enumerable.Repeat("not ", 100)) + "true")).Message, StringComparison.Ordinal);

    [Fact]
    public void Validate_HugeExpression_Rejected()
    {
        var when = string.Join(" or ", Enumerable.Repeat("data.amount > 1", 200));

        var error = Single(OneRule(when));

        Assert.Equal(2_000, error.Position);
        Assert.Contains("the limit is 2000", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_LongButFlatExpression_IsAccepted() =>
        Assert.Empty(RuleSetValidator.Validate(OneRule(string.Join(" or ", Enumerable.Repeat("data.amount > 1", 100)))));

    [Fact]
    public void Validate_StructuralErrors_AllReportedWithPointers()
    {
        const string json = """
            {"rules": [
              {"name": "a", "when": "true", "then": {"priority": "urgent", "channels": [{"channel": "fax"}, {"channel": "sms", "timeout": "30 seconds"}],
                "ttl": "-5m", "quietHours": "sometimes", "costPolicy": "free", "template": {"pigeon": "x"}, "colour": "red"}},
              {"name": "a", "then": {}, "extra": 1},
              {"when": "true", "then": {"suppress": "yes"}},
              {"name": "c", "then": {"channels": ["sms", "sms"], "tags": [""], "delay": "0s"}}
            ],
            "version": 3}
            """;

        var errors = RuleSetValidator.Validate(json);
        var byField = errors.ToDictionary(e => e.Field, e => e);

        Assert.Contains("Unknown priority 'urgent'", byField["/rules/0/then/priority"].Message, StringComparison.Ordinal);
        Assert.Contains("Unknown channel 'fax'; expected one of whatsapp, telegram, sms, email, push", byField["/rules/0/then/channels/0/channel"].Message, StringComparison.Ordinal);
        Assert.Contains("'timeout' must be a positive duration", byField["/rules/0/then/channels/1/timeout"].Message, StringComparison.Ordinal);
        Assert.Contains("'ttl' must be", byField["/rules/0/then/ttl"].Message, StringComparison.Ordinal);
        Assert.Contains("Unknown quietHours 'sometimes'", byField["/rules/0/then/quietHours"].Message, StringComparison.Ordinal);
        Assert.Contains("Unknown costPolicy 'free'", byField["/rules/0/then/costPolicy"].Message, StringComparison.Ordinal);
        Assert.Contains("Unknown channel 'pigeon'", byField["/rules/0/then/template/pigeon"].Message, StringComparison.Ordinal);
        Assert.Contains("Unknown action 'colour'", byField["/rules/0/then/colour"].Message, StringComparison.Ordinal);
        Assert.Contains("already named 'a'", byField["/rules/1/name"].Message, StringComparison.Ordinal);
        Assert.Contains("Unknown field 'extra'", byField["/rules/1/extra"].Message, StringComparison.Ordinal);
        Assert.Contains("needs a 'name'", byField["/rules/2/name"].Message, StringComparison.Ordinal);
        Assert.Contains("'suppress' must be true or false", byField["/rules/2/then/suppress"].Message, StringComparison.Ordinal);
        Assert.Contains("appears twice", byField["/rules/3/then/channels/1"].Message, StringComparison.Ordinal);
        Assert.Contains("A tag must be text", byField["/rules/3/then/tags/0"].Message, StringComparison.Ordinal);
        Assert.Contains("Unknown field 'version'", byField["/version"].Message, StringComparison.Ordinal);
        Assert.Equal(15, errors.Count);
        Assert.Equal(0, byField["/rules/0/then/priority"].RuleIndex);
        Assert.Equal("a", byField["/rules/0/then/priority"].RuleName);
    }

    [Fact]
    public void Validate_NotJson_ReportsLine()
    {
        var error = Single("{\"rules\": [\n  {\"name\": }\n]}");

        Assert.Null(error.RuleIndex);
        Assert.Contains("not valid JSON (line 2", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_DisabledRuleWithBadCondition_StillRejected() =>
        Assert.Equal("/rules/0/when", Single("""{"rules": [{"name": "x", "enabled": false, "when": "data.a >", "then": {}}]}""").Field);

    [Fact]
    public void Compile_InvalidSet_ThrowsWithErrors()
    {
        var e = Assert.Throws<RuleSetValidationException>(() => CompiledRuleSet.Compile(OneRule("foo()"), 1));

        Assert.Equal("/rules/1/when", Assert.Single(e.Errors).Field);
    }
}
