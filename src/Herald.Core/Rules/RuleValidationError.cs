namespace Herald.Core.Rules;

/// <summary>A problem in a rule set, located precisely enough for the console to underline it.</summary>
/// <param name="RuleIndex">Index of the rule in <c>rules</c>; null for problems with the document itself.</param>
/// <param name="RuleName">The rule's name, when it has one.</param>
/// <param name="Field">JSON pointer to the offending value, e.g. <c>/rules/3/when</c>.</param>
/// <param name="Position">Zero-based character offset inside an expression (for <c>when</c>); null otherwise.</param>
public sealed record RuleValidationError(int? RuleIndex, string? RuleName, string Field, int? Position, string Message)
{
    public override string ToString() =>
        (RuleIndex is { } i ? $"rule {i}" + (RuleName is null ? "" : $" '{RuleName}'") + " " : "")
        + Field + (Position is { } p ? $" at {p}" : "") + ": " + Message;
}

/// <summary>Thrown when a rule set that is not valid is compiled.</summary>
public sealed class RuleSetValidationException(IReadOnlyList<RuleValidationError> errors)
    : Exception("The rule set is not valid: " + string.Join("; ", errors))
{
    public IReadOnlyList<RuleValidationError> Errors { get; } = errors;
}
