using System.Text.RegularExpressions;

namespace Herald.Core.Rules.Expressions;

/// <summary>
/// A compiled, type-checked expression: a tree of small sealed nodes built once per rule-set version. Evaluation
/// is a walk over it with no loops other than over fixed lists, so its cost is bounded by the expression's size.
/// </summary>
internal abstract class Node
{
    /// <summary>
    /// The notification types outside which this condition cannot hold (a top-level <c>type == ..</c> or
    /// <c>type in [..]</c> conjunct), so a rule set can skip the rule for other types; null when unconstrained.
    /// </summary>
    public static string[]? TypeConstraintOf(Node? condition) => condition switch
    {
        TextEqualsNode equals => equals.TypeConstraint,
        InNode @in => @in.TypeConstraint,
        AndNode and => and.Operands.Select(TypeConstraintOf).FirstOrDefault(c => c is not null),
        _ => null,
    };

    public abstract Value Eval(EvalScope scope);

    /// <summary>As a condition: only a true boolean is true.</summary>
    public virtual bool Test(EvalScope scope) => Eval(scope).IsTrue;
}

/// <summary>A node whose value is a boolean; evaluates through <see cref="Test"/> without building a Value.</summary>
internal abstract class BoolNode : Node
{
    public sealed override Value Eval(EvalScope scope) => Value.Of(Test(scope));

    public abstract override bool Test(EvalScope scope);
}

internal sealed class ConstNode(Value value) : Node
{
    public Value Value { get; } = value;

    public override Value Eval(EvalScope scope) => Value;
}

internal sealed class TypeNode : Node
{
    public override Value Eval(EvalScope scope) => Value.Of(scope.Notification.Type);
}

internal sealed class PriorityNode : Node
{
    public override Value Eval(EvalScope scope) => Value.Of(scope.PriorityName);
}

internal sealed class ContactNode(Func<EvalScope, string?> read) : Node
{
    public override Value Eval(EvalScope scope) => Value.Of(read(scope));
}

internal sealed class CustomerRecordNode(string key) : Node
{
    public override Value Eval(EvalScope scope) =>
        scope.Customer is { } customer && customer.TryGetValue(key, out var value) ? Value.Of(value) : Value.Missing;
}

internal enum TimeField
{
    Hour,
    Minute,
    DayOfWeek,
    Day,
    Month,
    Year,
}

internal sealed class TimeNode(bool local, TimeField field) : Node
{
    public override Value Eval(EvalScope scope)
    {
        var time = local ? scope.LocalTime : scope.Now.UtcDateTime;
        return Value.Of(field switch
        {
            TimeField.Hour => time.Hour,
            TimeField.Minute => time.Minute,
            // ISO: Monday = 1 … Sunday = 7.
            TimeField.DayOfWeek => time.DayOfWeek == DayOfWeek.Sunday ? 7 : (int)time.DayOfWeek,
            TimeField.Day => time.Day,
            TimeField.Month => time.Month,
            _ => time.Year,
        });
    }
}

internal sealed class DataNode(int slot) : Node
{
    public override Value Eval(EvalScope scope) => scope.Data(slot);
}

internal sealed class AndNode(Node[] operands) : BoolNode
{
    public Node[] Operands { get; } = operands;

    public override bool Test(EvalScope scope)
    {
        foreach (var operand in Operands)
        {
            if (!operand.Test(scope))
            {
                return false;
            }
        }

        return true;
    }
}

internal sealed class OrNode(Node[] operands) : BoolNode
{
    public override bool Test(EvalScope scope)
    {
        foreach (var operand in operands)
        {
            if (operand.Test(scope))
            {
                return true;
            }
        }

        return false;
    }
}

internal sealed class NotNode(Node operand) : BoolNode
{
    public override bool Test(EvalScope scope) => !operand.Test(scope);
}

internal enum CompareOp
{
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// <summary>Comparison semantics shared by every comparison node.</summary>
internal static class Comparison
{
    /// <summary>
    /// True only when both sides are present, comparable and the relation holds: a missing or mismatched value makes
    /// every comparison false, <c>!=</c> included (null tests are compiled separately).
    /// </summary>
    public static bool Apply(CompareOp op, in Value left, in Value right)
    {
        if (left.IsAbsent || right.IsAbsent)
        {
            return false;
        }

        int order;
        if (left.Kind == ValueKind.Text && right.Kind == ValueKind.Text)
        {
            order = string.CompareOrdinal(left.Text, right.Text);
        }
        else if (left.Kind == ValueKind.Bool && right.Kind == ValueKind.Bool)
        {
            return op switch
            {
                CompareOp.Eq => left.Number == right.Number,
                CompareOp.Ne => left.Number != right.Number,
                _ => false,
            };
        }
        else if (left.Kind == ValueKind.Duration || right.Kind == ValueKind.Duration)
        {
            if (!left.TryDuration(out var l) || !right.TryDuration(out var r))
            {
                return false;
            }

            order = l.CompareTo(r);
        }
        else if (left.TryNumber(out var l) && right.TryNumber(out var r))
        {
            order = l.CompareTo(r);
        }
        else
        {
            return false;
        }

        return Holds(op, order);
    }

    public static bool Holds(CompareOp op, int order) => op switch
    {
        CompareOp.Eq => order == 0,
        CompareOp.Ne => order != 0,
        CompareOp.Lt => order < 0,
        CompareOp.Le => order <= 0,
        CompareOp.Gt => order > 0,
        _ => order >= 0,
    };
}

internal sealed class CompareNode(CompareOp op, Node left, Node right) : BoolNode
{
    public override bool Test(EvalScope scope) => Comparison.Apply(op, left.Eval(scope), right.Eval(scope));
}

/// <summary>The hot case <c>path == "text"</c>: no Value for the constant, one ordinal comparison.</summary>
internal sealed class TextEqualsNode(Node operand, string constant, bool negated) : BoolNode
{
    /// <summary>The types this node admits when it is a positive test on <c>type</c>; null otherwise.</summary>
    public string[]? TypeConstraint => operand is TypeNode && !negated ? [constant] : null;

    public override bool Test(EvalScope scope)
    {
        var value = operand.Eval(scope);
        return value.Kind == ValueKind.Text
            ? string.Equals(value.Text, constant, StringComparison.Ordinal) != negated
            : Comparison.Apply(negated ? CompareOp.Ne : CompareOp.Eq, value, Value.Of(constant));
    }
}

/// <summary>The hot case <c>path &gt; 1000</c>.</summary>
internal sealed class NumberCompareNode(Node operand, CompareOp op, decimal constant) : BoolNode
{
    public override bool Test(EvalScope scope)
    {
        var value = operand.Eval(scope);
        return value.Kind == ValueKind.Number
            ? Comparison.Holds(op, value.Number.CompareTo(constant))
            : Comparison.Apply(op, value, Value.Of(constant));
    }
}

internal sealed class IsNullNode(Node operand, bool negated) : BoolNode
{
    public override bool Test(EvalScope scope) => operand.Eval(scope).IsAbsent != negated;
}

/// <summary><c>x in [..]</c>: text members in a hash set, other members compared one by one.</summary>
internal sealed class InNode(Node operand, HashSet<string> texts, Value[] others, bool hasNull, bool negated) : BoolNode
{
    public string[]? TypeConstraint => operand is TypeNode && !negated ? [.. texts] : null;

    public override bool Test(EvalScope scope)
    {
        var value = operand.Eval(scope);
        if (value.IsAbsent)
        {
            // Like a comparison: absent is never "in" a list, nor reliably "not in" it, unless null is listed.
            return hasNull && !negated;
        }

        var found = value.Kind == ValueKind.Text && texts.Contains(value.Text!);
        for (var i = 0; !found && i < others.Length; i++)
        {
            found = Comparison.Apply(CompareOp.Eq, value, others[i]);
        }

        if (!found && value.Kind != ValueKind.Text && texts.Count > 0 && value.Kind is ValueKind.Number)
        {
            // A number in data against text members ("840" vs 840): compare as numbers where the text holds one.
            foreach (var text in texts)
            {
                if (Comparison.Apply(CompareOp.Eq, value, Value.Of(text)))
                {
                    found = true;
                    break;
                }
            }
        }

        return found != negated;
    }
}

internal enum ArithmeticOp
{
    Add,
    Subtract,
    Multiply,
    Divide,
}

internal sealed class ArithmeticNode(ArithmeticOp op, Node left, Node right) : Node
{
    public override Value Eval(EvalScope scope)
    {
        var l = left.Eval(scope);
        var r = right.Eval(scope);
        try
        {
            if (l.Kind == ValueKind.Duration || r.Kind == ValueKind.Duration)
            {
                // duration ± duration, duration * or / number.
                return op switch
                {
                    ArithmeticOp.Add or ArithmeticOp.Subtract when l.TryDuration(out var a) && r.TryDuration(out var b) =>
                        Value.OfDuration(op == ArithmeticOp.Add ? a + b : a - b),
                    ArithmeticOp.Multiply when l.Kind == ValueKind.Duration && r.TryNumber(out var n) => Value.OfDuration(l.Number * n),
                    ArithmeticOp.Multiply when r.Kind == ValueKind.Duration && l.TryNumber(out var n) => Value.OfDuration(r.Number * n),
                    ArithmeticOp.Divide when l.Kind == ValueKind.Duration && r.TryNumber(out var n) && n != 0 => Value.OfDuration(l.Number / n),
                    _ => Value.Missing,
                };
            }

            if (!l.TryNumber(out var x) || !r.TryNumber(out var y))
            {
                return Value.Missing;
            }

            return op switch
            {
                ArithmeticOp.Add => Value.Of(x + y),
                ArithmeticOp.Subtract => Value.Of(x - y),
                ArithmeticOp.Multiply => Value.Of(x * y),
                _ => y == 0 ? Value.Missing : Value.Of(x / y),
            };
        }
        catch (OverflowException)
        {
            // Out of decimal's range: no value, so any comparison on it is false.
            return Value.Missing;
        }
    }
}

internal sealed class NegateNode(Node operand) : Node
{
    public override Value Eval(EvalScope scope)
    {
        var value = operand.Eval(scope);
        return value.Kind == ValueKind.Duration ? Value.OfDuration(-value.Number)
            : value.TryNumber(out var n) ? Value.Of(-n)
            : Value.Missing;
    }
}

internal enum TextTest
{
    StartsWith,
    EndsWith,
    Contains,
}

internal sealed class TextTestNode(TextTest test, Node text, Node argument) : BoolNode
{
    public override bool Test(EvalScope scope)
    {
        var t = text.Eval(scope);
        var a = argument.Eval(scope);
        if (t.Kind != ValueKind.Text || a.Kind != ValueKind.Text)
        {
            return false;
        }

        // Ordinal search is O(n·m) at worst: both sides are capped so one call stays in the microseconds.
        RuleLimitException.CheckText(t.Text!);
        RuleLimitException.CheckText(a.Text!);
        return test switch
        {
            TextTest.StartsWith => t.Text!.StartsWith(a.Text!, StringComparison.Ordinal),
            TextTest.EndsWith => t.Text!.EndsWith(a.Text!, StringComparison.Ordinal),
            _ => t.Text!.Contains(a.Text!, StringComparison.Ordinal),
        };
    }
}

/// <summary>
/// <c>matches(x, "pattern")</c>. The regex is built once per rule-set version, non-backtracking where the pattern
/// allows (linear in the input), otherwise with a match timeout; a timeout surfaces as a rule error.
/// </summary>
internal sealed class MatchesNode(Node text, Regex regex) : BoolNode
{
    public override bool Test(EvalScope scope)
    {
        var t = text.Eval(scope);
        return t.Kind == ValueKind.Text && regex.IsMatch(t.Text!);
    }
}

internal sealed class LenNode(Node operand) : Node
{
    public override Value Eval(EvalScope scope)
    {
        var value = operand.Eval(scope);
        return value.Kind switch
        {
            ValueKind.Text => Value.Of(value.Text!.Length),
            ValueKind.Array => Value.Of(value.Number),
            _ => Value.Missing,
        };
    }
}

internal sealed class CaseNode(Node operand, bool upper) : Node
{
    public override Value Eval(EvalScope scope)
    {
        var value = operand.Eval(scope);
        return value.Kind == ValueKind.Text
            ? Value.Of(upper ? RuleLimitException.CheckText(value.Text!).ToUpperInvariant() : RuleLimitException.CheckText(value.Text!).ToLowerInvariant())
            : Value.Missing;
    }
}

/// <summary>A run-time limit of the rule language was hit; the rule is skipped and reported like a pattern timeout.</summary>
internal sealed class RuleLimitException(string message) : Exception(message)
{
    /// <summary>Longest text the text functions (startsWith, endsWith, contains, lower, upper) take.</summary>
    public const int MaxFunctionText = 4_096;

    public static string CheckText(string text) =>
        text.Length <= MaxFunctionText
            ? text
            : throw new RuleLimitException($"A text of {text.Length} characters was passed to a text function; the limit is {MaxFunctionText}.");
}
