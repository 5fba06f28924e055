using System.Text.RegularExpressions;
using Herald.Core.Routing;
using Herald.Core.Rules.Expressions;

namespace Herald.Core.Rules;

/// <summary>
/// One compiled condition, usable on its own (console previews, tests). Rule sets compile their conditions the same
/// way but share one data scan across all rules.
/// </summary>
public sealed class RuleCondition
{
    private readonly Node _node;
    private readonly DataPaths _paths;

    private RuleCondition(Node node, DataPaths paths)
    {
        _node = node;
        _paths = paths;
    }

    public string Expression { get; private init; } = "";

    /// <summary>Compiles <paramref name="expression"/>, or throws <see cref="RuleSetValidationException"/> with the located error.</summary>
    public static RuleCondition Compile(string expression)
    {
        var paths = new DataPaths();
        var node = TryBind(expression, paths, out var error)
            ?? throw new RuleSetValidationException([error!]);
        return new RuleCondition(node, paths) { Expression = expression };
    }

    /// <summary>The errors in <paramref name="expression"/> (at most one: the first), with its character position.</summary>
    public static IReadOnlyList<RuleValidationError> Validate(string expression) =>
        TryBind(expression, new DataPaths(), out var error) is null ? [error!] : [];

    /// <summary>Whether the condition holds; throws <see cref="RegexMatchTimeoutException"/> when a pattern runs too long.</summary>
    public bool Evaluate(RuleContext context)
    {
        var n = context.Notification;
        var scope = EvalScope.Rent(context, n.RequestedPriority ?? DefaultRouter.PriorityForType(n.Type), _paths);
        try
        {
            return _node.Test(scope);
        }
        finally
        {
            scope.Return();
        }
    }

    internal static Node? TryBind(string expression, DataPaths paths, out RuleValidationError? error, int? ruleIndex = null, string? ruleName = null, string field = "")
    {
        try
        {
            error = null;
            return new Binder(paths).BindCondition(Parser.Parse(expression));
        }
        catch (ExpressionException e)
        {
            error = new RuleValidationError(ruleIndex, ruleName, field, e.Position, e.Message);
            return null;
        }
    }
}
