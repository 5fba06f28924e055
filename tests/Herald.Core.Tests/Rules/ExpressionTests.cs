using Herald.Core.Rules;
using static Herald.Core.Tests.Rules.RuleTestData;

namespace Herald.Core.Tests.Rules;

public sealed class ExpressionTests
{
    private const string Card = """{"amount": 1500.50, "currency": "EUR", "merchant": {"country": "DE", "name": "Kaufhaus"}, "items": [1, 2, 3], "amountText": "99.90", "flag": true, "nothing": null}""";

    [Theory]
    [InlineData("1 + 2 * 3 == 7")]
    [InlineData("(1 + 2) * 3 == 9")]
    [InlineData("10 - 4 - 3 == 3")]
    [InlineData("12 / 4 / 3 == 1")]
    [InlineData("-2 * 3 == -6")]
    [InlineData("true or false and false")]
    [InlineData("not false and true")]
    [InlineData("not 1 == 2")]
    [InlineData("!(1 == 2) && 1 != 2 || false")]
    [InlineData("0.1 + 0.2 == 0.3")]
    [InlineData("1.50 == 1.5")]
    public void Evaluate_Precedence_FollowsGrammar(string expression) => Assert.True(Eval(expression));

    [Theory]
    [InlineData("false or true and false")]
    [InlineData("not (true or false)")]
    public void Evaluate_PrecedenceFalseCases_AreFalse(string expression) => Assert.False(Eval(expression));

    [Theory]
    [InlineData("data.amount > 1000", true)]
    [InlineData("data.amount >= 1500.5", true)]
    [InlineData("data.amount < 1500.5", false)]
    [InlineData("data.amount <= 1500.50", true)]
    [InlineData("data.amount == 1500.5", true)]
    [InlineData("data.amount != 1500.5", false)]
    [InlineData("1000 < data.amount", true)]
    [InlineData("data.amount * 2 == 3001", true)]
    [InlineData("data.amount / 0 > 0", false)]
    [InlineData("data.amountText > 50", true)]
    [InlineData("data.amountText == 99.9", true)]
    [InlineData("data.currency == \"EUR\"", true)]
    [InlineData("data.currency == 'USD'", false)]
    [InlineData("data.currency != 'USD'", true)]
    [InlineData("data.currency < 'USD'", true)]
    [InlineData("data.merchant.country == 'DE'", true)]
    [InlineData("data.flag", true)]
    [InlineData("data.flag == true", true)]
    [InlineData("not data.flag", false)]
    [InlineData("data.nothing == null", true)]
    [InlineData("data.nothing != null", false)]
    [InlineData("data.merchant != null", true)]
    [InlineData("len(data.items) == 3", true)]
    [InlineData("len(data.merchant.name) == 8", true)]
    public void Evaluate_Operators_OnData(string expression, bool expected) => Assert.Equal(expected, Eval(expression, Card));

    [Theory]
    [InlineData("data.missing > 5")]
    [InlineData("data.missing < 5")]
    [InlineData("data.missing == 'x'")]
    [InlineData("data.missing != 'x'")]
    [InlineData("data.merchant.missing.deeper == 1")]
    [InlineData("data.missing in ['x', 'y']")]
    [InlineData("data.missing not in ['x', 'y']")]
    [InlineData("startsWith(data.missing, 'x')")]
    [InlineData("len(data.missing) == 0")]
    [InlineData("data.missing + 1 > 0")]
    [InlineData("data.currency > 5")]
    [InlineData("data.merchant == 'DE'")]
    [InlineData("customer.segment == 'vip'")]
    public void Evaluate_MissingOrMismatchedValue_ComparesFalse(string expression) => Assert.False(Eval(expression, Card));

    [Theory]
    [InlineData("data.missing == null")]
    [InlineData("not (data.missing > 5)")]
    [InlineData("not data.missing")]
    public void Evaluate_MissingValue_NullTestsAndNegationHold(string expression) => Assert.True(Eval(expression, Card));

    [Fact]
    public void Evaluate_InvalidDataJson_TreatsDataAsMissing() =>
        Assert.True(Eval("data.amount == null and type == 'card.transaction'", "not json"));

    [Theory]
    [InlineData("data.merchant.country in ['DE', 'AT', 'CH']", true)]
    [InlineData("data.merchant.country not in ['DE', 'AT']", false)]
    [InlineData("data.merchant.country in []", false)]
    [InlineData("data.amount in [1, 1500.5]", true)]
    [InlineData("type in ['otp', 'card.transaction']", true)]
    [InlineData("data.missing in ['x', null]", true)]
    [InlineData("priority in ['critical', 'high']", true)]
    public void Evaluate_In_MatchesListMembers(string expression, bool expected) => Assert.Equal(expected, Eval(expression, Card));

    [Theory]
    [InlineData("startsWith(customer.phone, '+49')", true)]
    [InlineData("endsWith(customer.email, '@example.test')", true)]
    [InlineData("contains(data.merchant.name, 'auf')", true)]
    [InlineData("contains(data.merchant.name, 'AUF')", false)]
    [InlineData("contains(upper(data.merchant.name), 'AUF')", true)]
    [InlineData("lower(data.currency) == 'eur'", true)]
    [InlineData("matches(data.merchant.name, '^K[a-z]+$')", true)]
    [InlineData("matches(customer.phone, \"^\\+49\\d+$\")", true)]
    [InlineData("matches(data.amount, '1500')", false)]
    public void Evaluate_Functions(string expression, bool expected) => Assert.Equal(expected, Eval(expression, Card));

    [Fact]
    public void Evaluate_Durations_CompareAndAdd()
    {
        Assert.True(Eval("5m == 300s"));
        Assert.True(Eval("1h30m == 90m"));
        Assert.True(Eval("1m + 30s < 2m"));
        Assert.True(Eval("2 * 30s == 1m"));
        Assert.True(Eval("data.wait > 1m", """{"wait": "90s"}"""));
    }

    [Fact]
    public void Evaluate_NotificationPaths()
    {
        Assert.True(Eval("type == 'otp' and priority == 'critical'", type: "otp"));
        Assert.True(Eval("customer.language == 'de'"));
        Assert.True(Eval("customer.segment == 'vip'", customer: new Dictionary<string, string> { ["segment"] = "vip" }));
        Assert.True(Eval("customer.language == 'fr'", contacts: new(Phone: "+1"), customer: new Dictionary<string, string> { ["language"] = "fr" }));
    }

    [Fact]
    public void Evaluate_NowAndLocal_UseUtcAndCustomerZone()
    {
        var berlin = new Dictionary<string, string> { ["timezone"] = "Europe/Berlin" };
        Assert.True(Eval("now.hour == 14 and now.minute == 30 and now.dayOfWeek == 1 and now.month == 3 and now.year == 2025 and now.day == 3"));
        Assert.True(Eval("local.hour == 15", customer: berlin));
        Assert.True(Eval("local.hour == 14"));
        Assert.True(Eval("local.hour == 14", customer: new Dictionary<string, string> { ["timezone"] = "Not/AZone" }));
        // 23:30 UTC on Sunday is already Monday 00:30 in Berlin.
        Assert.True(Eval("local.dayOfWeek == 1 and local.hour == 0 and now.dayOfWeek == 7",
            customer: berlin, now: new DateTimeOffset(2025, 3, 2, 23, 30, 0, TimeSpan.Zero)));
    }

    [Fact]
    public void Evaluate_BacktrackingPatternOnHostileInput_ThrowsTimeoutInsteadOfHanging()
    {
        // The lookahead forces the backtracking engine; (x+x+)+y is exponential on a run of x without y.
        var condition = RuleCondition.Compile("matches(data.text, '(?=x)(x+x+)+y')");
        var context = Context(data: $$"""{"text": "{{new string('x', 40)}}"}""");

        Assert.Throws<System.Text.RegularExpressions.RegexMatchTimeoutException>(() => condition.Evaluate(context));
    }

    [Fact]
    public void Evaluate_NestedQuantifierWithoutBackreference_IsLinear()
    {
        // Classic catastrophic pattern: NonBacktracking handles it in linear time, no timeout.
        Assert.False(Eval("matches(data.text, '^(a+)+$')", $$"""{"text": "{{new string('a', 5000)}}!"}"""));
    }

    [Fact]
    public void Evaluate_DataKeysWithEscapes_AreMatched() =>
        Assert.True(Eval("data.amount == 5", """{"am\u006funt": 5}"""));

    [Fact]
    public void Evaluate_LargeUnrelatedData_IsSkipped()
    {
        var big = "{\"blob\": [" + string.Join(",", Enumerable.Range(0, 10_000)) + "], \"amount\": 7}";
        Assert.True(Eval("data.amount == 7", big));
    }
}
