namespace Herald.Core.Rules;

/// <summary>Checks a rule set document without keeping the compiled result (PUT /v1/rules rejects on any error).</summary>
public static class RuleSetValidator
{
    /// <summary>Every problem found, each located by rule, JSON pointer and, inside a condition, character offset.</summary>
    public static IReadOnlyList<RuleValidationError> Validate(string json) =>
        CompiledRuleSet.TryCompile(json, 0, out _, out var errors) ? [] : errors;
}
