using System.Text.RegularExpressions;
using Herald.Core.Notifications;

namespace Herald.Core.Rules.Expressions;

/// <summary>What the binder knows about an expression's value before any notification is seen.</summary>
internal enum StaticType
{
    Bool,
    Number,
    Text,
    Duration,
    Null,
    /// <summary>Data and customer-record values: known only at evaluation.</summary>
    Dynamic,
}

/// <summary>
/// Resolves paths and functions, checks types where they are known, and builds the evaluation tree. Everything a
/// rule may touch is listed here: there is no other way from an expression to the process.
/// </summary>
internal sealed class Binder(DataPaths dataPaths)
{
    public static readonly TimeSpan RegexTimeout = TimeSpan.FromMilliseconds(5);

    /// <summary>At most this many backtracking patterns per rule set: their timeouts bound one evaluation to
    /// <c>MaxBacktrackingPatterns × RegexTimeout</c> (80 ms) of pattern matching in the worst case.</summary>
    public const int MaxBacktrackingPatterns = 16;

    private static readonly string[] Roots = ["type", "priority", "data", "customer", "now", "local"];
    private static readonly string[] PriorityNames = ["critical", "high", "normal", "low"];
    private static readonly string[] TimeFields = ["hour", "minute", "dayOfWeek", "day", "month", "year"];
    private static readonly string[] Functions = ["startsWith", "endsWith", "contains", "matches", "len", "lower", "upper"];

    private sealed record Bound(Node Node, StaticType Type, Syntax Syntax);

    /// <summary>Binds a whole condition, which must be true/false (or data whose type is known only later).</summary>
    public Node BindCondition(Syntax syntax)
    {
        var bound = Bind(syntax);
        if (bound.Type is not (StaticType.Bool or StaticType.Dynamic))
        {
            throw new ExpressionException(StartOf(syntax),
                $"A condition must be true or false, but this is {Describe(bound.Type)}; compare it, e.g. 'data.amount > 100'.");
        }

        return bound.Node;
    }

    private Bound Bind(Syntax syntax) => syntax switch
    {
        LiteralSyntax literal => new Bound(new ConstNode(literal.Value), TypeOf(literal.Value), syntax),
        PathSyntax path => BindPath(path),
        UnarySyntax { Operator: TokenKind.Not } unary => new Bound(new NotNode(Condition(unary.Operand, "not")), StaticType.Bool, syntax),
        UnarySyntax unary => BindNegate(unary),
        BinarySyntax { Operator: TokenKind.And or TokenKind.Or } logical => BindLogical(logical),
        BinarySyntax { Operator: TokenKind.Plus or TokenKind.Minus or TokenKind.Star or TokenKind.Slash } arithmetic => BindArithmetic(arithmetic),
        BinarySyntax comparison => BindComparison(comparison),
        InSyntax @in => BindIn(@in),
        CallSyntax call => BindCall(call),
        _ => throw new ExpressionException(syntax.Position, "Unsupported expression."),
    };

    private Node Condition(Syntax syntax, string op)
    {
        var bound = Bind(syntax);
        if (bound.Type is not (StaticType.Bool or StaticType.Dynamic))
        {
            throw new ExpressionException(StartOf(syntax), $"'{op}' needs a condition (true/false) here, but this is {Describe(bound.Type)}.");
        }

        return bound.Node;
    }

    private Bound BindLogical(BinarySyntax syntax)
    {
        // Flatten a or b or c into one node: shallower trees, one loop.
        var operands = new List<Node>();
        var op = syntax.Operator;
        Collect(syntax);
        return new Bound(op == TokenKind.And ? new AndNode([.. operands]) : new OrNode([.. operands]), StaticType.Bool, syntax);

        void Collect(Syntax s)
        {
            if (s is BinarySyntax b && b.Operator == op)
            {
                Collect(b.Left);
                Collect(b.Right);
            }
            else
            {
                operands.Add(Condition(s, op == TokenKind.And ? "and" : "or"));
            }
        }
    }

    private Bound BindNegate(UnarySyntax syntax)
    {
        var operand = Bind(syntax.Operand);
        if (operand.Type is not (StaticType.Number or StaticType.Duration or StaticType.Dynamic))
        {
            throw new ExpressionException(syntax.Position, $"'-' applies to numbers and durations, not to {Describe(operand.Type)}.");
        }

        return new Bound(new NegateNode(operand.Node), operand.Type == StaticType.Duration ? StaticType.Duration : StaticType.Number, syntax);
    }

    private Bound BindArithmetic(BinarySyntax syntax)
    {
        var left = Bind(syntax.Left);
        var right = Bind(syntax.Right);
        var op = syntax.Operator switch
        {
            TokenKind.Plus => ArithmeticOp.Add,
            TokenKind.Minus => ArithmeticOp.Subtract,
            TokenKind.Star => ArithmeticOp.Multiply,
            _ => ArithmeticOp.Divide,
        };
        StaticType? result = (left.Type, right.Type, op) switch
        {
            (StaticType.Number, StaticType.Number, _) => StaticType.Number,
            (StaticType.Duration, StaticType.Duration, ArithmeticOp.Add or ArithmeticOp.Subtract) => StaticType.Duration,
            (StaticType.Duration, StaticType.Number or StaticType.Dynamic, ArithmeticOp.Multiply or ArithmeticOp.Divide) => StaticType.Duration,
            (StaticType.Number or StaticType.Dynamic, StaticType.Duration, ArithmeticOp.Multiply) => StaticType.Duration,
            (StaticType.Duration, StaticType.Dynamic, _) or (StaticType.Dynamic, StaticType.Duration, _) => StaticType.Duration,
            // Data values are coerced at run time; the result is a number or missing, never true/false.
            (StaticType.Number or StaticType.Dynamic, StaticType.Number or StaticType.Dynamic, _) => StaticType.Number,
            _ => null,
        };
        if (result is null)
        {
            throw new ExpressionException(syntax.Position,
                $"Cannot apply '{Parser.SymbolOf(syntax.Operator)}' to {Describe(left.Type)} and {Describe(right.Type)}; arithmetic works on numbers and durations.");
        }

        return new Bound(new ArithmeticNode(op, left.Node, right.Node), result.Value, syntax);
    }

    private Bound BindComparison(BinarySyntax syntax)
    {
        var left = Bind(syntax.Left);
        var right = Bind(syntax.Right);
        var op = syntax.Operator switch
        {
            TokenKind.Eq => CompareOp.Eq,
            TokenKind.Ne => CompareOp.Ne,
            TokenKind.Lt => CompareOp.Lt,
            TokenKind.Le => CompareOp.Le,
            TokenKind.Gt => CompareOp.Gt,
            _ => CompareOp.Ge,
        };
        var symbol = Parser.SymbolOf(syntax.Operator);

        if (left.Type == StaticType.Null || right.Type == StaticType.Null)
        {
            if (op is not (CompareOp.Eq or CompareOp.Ne))
            {
                throw new ExpressionException(syntax.Position, $"null can only be tested with == or !=, not with '{symbol}'.");
            }

            var other = left.Type == StaticType.Null ? right : left;
            return new Bound(new IsNullNode(other.Node, op == CompareOp.Ne), StaticType.Bool, syntax);
        }

        if (left.Type != StaticType.Dynamic && right.Type != StaticType.Dynamic && left.Type != right.Type)
        {
            throw new ExpressionException(syntax.Position, $"Cannot compare {Describe(left.Type)} with {Describe(right.Type)}.");
        }

        if ((left.Type == StaticType.Bool || right.Type == StaticType.Bool) && op is not (CompareOp.Eq or CompareOp.Ne))
        {
            throw new ExpressionException(syntax.Position, $"true/false values can only be compared with == or !=, not with '{symbol}'.");
        }

        CheckPriorityLiteral(left, right);
        CheckPriorityLiteral(right, left);

        // Put a constant on the right so the specialised nodes apply to "5 < data.x" too.
        if (left.Node is ConstNode && right.Node is not ConstNode)
        {
            (left, right) = (right, left);
            op = op switch
            {
                CompareOp.Lt => CompareOp.Gt,
                CompareOp.Le => CompareOp.Ge,
                CompareOp.Gt => CompareOp.Lt,
                CompareOp.Ge => CompareOp.Le,
                _ => op,
            };
        }

        Node node = right.Node switch
        {
            ConstNode { Value.Kind: ValueKind.Text } c when op is CompareOp.Eq or CompareOp.Ne =>
                new TextEqualsNode(left.Node, c.Value.Text!, op == CompareOp.Ne),
            ConstNode { Value.Kind: ValueKind.Number } c => new NumberCompareNode(left.Node, op, c.Value.Number),
            _ => new CompareNode(op, left.Node, right.Node),
        };
        return new Bound(node, StaticType.Bool, syntax);
    }

    private static void CheckPriorityLiteral(Bound path, Bound literal)
    {
        if (path.Node is PriorityNode && literal.Node is ConstNode { Value.Kind: ValueKind.Text } c && !PriorityNames.Contains(c.Value.Text))
        {
            throw new ExpressionException(literal.Syntax.Position,
                $"Unknown priority \"{c.Value.Text}\"; priorities are {string.Join(", ", PriorityNames)}.");
        }
    }

    private Bound BindIn(InSyntax syntax)
    {
        var item = Bind(syntax.Item);
        var texts = new HashSet<string>(StringComparer.Ordinal);
        var others = new List<Value>();
        var hasNull = false;
        foreach (var literal in syntax.List)
        {
            var type = TypeOf(literal.Value);
            if (type == StaticType.Null)
            {
                hasNull = true;
                continue;
            }

            if (item.Type != StaticType.Dynamic && type != item.Type)
            {
                throw new ExpressionException(literal.Position, $"This list holds {Describe(type)}, but it is searched for {Describe(item.Type)}.");
            }

            if (literal.Value.Kind == ValueKind.Text)
            {
                texts.Add(literal.Value.Text!);
            }
            else
            {
                others.Add(literal.Value);
            }

            if (item.Node is PriorityNode)
            {
                CheckPriorityLiteral(item, new Bound(new ConstNode(literal.Value), type, literal));
            }
        }

        return new Bound(new InNode(item.Node, texts, [.. others], hasNull, syntax.Negated), StaticType.Bool, syntax);
    }

    private Bound BindCall(CallSyntax call)
    {
        var arity = call.Name switch
        {
            "startsWith" or "endsWith" or "contains" or "matches" => 2,
            "len" or "lower" or "upper" => 1,
            _ => throw new ExpressionException(call.Position,
                $"Unknown function '{call.Name}'; available functions are {string.Join(", ", Functions)}."),
        };
        if (call.Arguments.Count != arity)
        {
            throw new ExpressionException(call.Position,
                $"{call.Name} takes {arity} argument{(arity == 1 ? "" : "s")}, but {call.Arguments.Count} {(call.Arguments.Count == 1 ? "was" : "were")} given.");
        }

        var args = new Bound[arity];
        for (var i = 0; i < arity; i++)
        {
            args[i] = Bind(call.Arguments[i]);
            if (args[i].Type is not (StaticType.Text or StaticType.Dynamic))
            {
                throw new ExpressionException(call.Arguments[i].Position, $"{call.Name} works on text, but this is {Describe(args[i].Type)}.");
            }
        }

        switch (call.Name)
        {
            case "startsWith":
                return new Bound(new TextTestNode(TextTest.StartsWith, args[0].Node, args[1].Node), StaticType.Bool, call);
            case "endsWith":
                return new Bound(new TextTestNode(TextTest.EndsWith, args[0].Node, args[1].Node), StaticType.Bool, call);
            case "contains":
                return new Bound(new TextTestNode(TextTest.Contains, args[0].Node, args[1].Node), StaticType.Bool, call);
            case "matches":
                if (args[1].Node is not ConstNode { Value.Kind: ValueKind.Text } pattern)
                {
                    throw new ExpressionException(call.Arguments[1].Position, "The pattern of matches must be fixed text, e.g. matches(data.iban, \"^DE\\d{20}$\").");
                }

                var regex = BuildRegex(pattern.Value.Text!, call.Arguments[1].Position);
                if ((regex.Options & RegexOptions.NonBacktracking) == 0 && ++dataPaths.BacktrackingPatterns > MaxBacktrackingPatterns)
                {
                    throw new ExpressionException(call.Arguments[1].Position,
                        $"A rule set may hold at most {MaxBacktrackingPatterns} patterns that need backtracking (backreferences, lookarounds, atomic groups); rewrite this one without them.");
                }

                return new Bound(new MatchesNode(args[0].Node, regex), StaticType.Bool, call);
            case "len":
                return new Bound(new LenNode(args[0].Node), StaticType.Number, call);
            default:
                return new Bound(new CaseNode(args[0].Node, upper: call.Name == "upper"), StaticType.Text, call);
        }
    }

    internal static Regex BuildRegex(string pattern, int position)
    {
        try
        {
            // Linear-time matching whenever the pattern allows it: catastrophic backtracking cannot happen.
            return new Regex(pattern, RegexOptions.NonBacktracking | RegexOptions.CultureInvariant, RegexTimeout);
        }
        catch (NotSupportedException)
        {
            // Backreferences, lookarounds and atomic groups need the backtracking engine; the timeout bounds it.
        }
        catch (ArgumentException e)
        {
            throw new ExpressionException(position, $"Invalid regular expression: {e.Message}");
        }

        try
        {
            return new Regex(pattern, RegexOptions.CultureInvariant, RegexTimeout);
        }
        catch (ArgumentException e)
        {
            throw new ExpressionException(position, $"Invalid regular expression: {e.Message}");
        }
    }

    private Bound BindPath(PathSyntax path)
    {
        var segments = path.Segments;
        var root = segments[0];
        switch (root)
        {
            case "type" or "priority":
                NoFields(path);
                return new Bound(root == "type" ? new TypeNode() : new PriorityNode(), StaticType.Text, path);
            case "data":
                if (segments.Length == 1)
                {
                    throw new ExpressionException(path.Position, "Name a field of the data, e.g. data.amount or data.merchant.country.");
                }

                return new Bound(new DataNode(dataPaths.SlotFor(segments[1..])), StaticType.Dynamic, path);
            case "customer":
                if (segments.Length != 2)
                {
                    throw new ExpressionException(segments.Length == 1 ? path.Position : path.SegmentPositions[2],
                        "Name one customer field, e.g. customer.language, customer.phone or customer.segment.");
                }

                Func<EvalScope, string?>? contact = segments[1] switch
                {
                    "id" => s => s.Notification.CustomerId,
                    "phone" => s => s.Notification.Contacts.Phone ?? Record(s, "phone"),
                    "email" => s => s.Notification.Contacts.Email ?? Record(s, "email"),
                    "telegramChatId" => s => s.Notification.Contacts.TelegramChatId ?? Record(s, "telegramChatId"),
                    "pushToken" => s => s.Notification.Contacts.PushToken ?? Record(s, "pushToken"),
                    "language" => s => s.Notification.Contacts.Language ?? Record(s, "language"),
                    _ => null,
                };
                return contact is null
                    ? new Bound(new CustomerRecordNode(segments[1]), StaticType.Dynamic, path)
                    : new Bound(new ContactNode(contact), StaticType.Text, path);
            case "now" or "local":
                var field = segments.Length == 2 ? Array.IndexOf(TimeFields, segments[1]) : -1;
                if (field < 0)
                {
                    throw new ExpressionException(segments.Length == 1 ? path.Position : path.SegmentPositions[1],
                        $"'{root}' needs one of the fields {string.Join(", ", TimeFields)}, e.g. {root}.hour.");
                }

                return new Bound(new TimeNode(root == "local", (TimeField)field), StaticType.Number, path);
            default:
                throw new ExpressionException(path.Position,
                    $"Unknown name '{root}'; paths start with {string.Join(", ", Roots)} (text in quotes: \"{root}\").");
        }

        static string? Record(EvalScope s, string key) => s.Customer is { } c && c.TryGetValue(key, out var v) ? v : null;
    }

    /// <summary>Where the text of <paramref name="syntax"/> begins (a binary node's own position is its operator).</summary>
    private static int StartOf(Syntax syntax) => syntax switch
    {
        BinarySyntax binary => StartOf(binary.Left),
        InSyntax @in => StartOf(@in.Item),
        _ => syntax.Position,
    };

    private static void NoFields(PathSyntax path)
    {
        if (path.Segments.Length > 1)
        {
            throw new ExpressionException(path.SegmentPositions[1], $"'{path.Segments[0]}' has no fields.");
        }
    }

    private static StaticType TypeOf(Value value) => value.Kind switch
    {
        ValueKind.Bool => StaticType.Bool,
        ValueKind.Number => StaticType.Number,
        ValueKind.Text => StaticType.Text,
        ValueKind.Duration => StaticType.Duration,
        _ => StaticType.Null,
    };

    private static string Describe(StaticType type) => type switch
    {
        StaticType.Bool => "true/false",
        StaticType.Number => "a number",
        StaticType.Text => "text",
        StaticType.Duration => "a duration",
        StaticType.Null => "null",
        _ => "a data value",
    };

    /// <summary>Keeps the public Priority enum and the names in sync at compile time of this file.</summary>
    internal static string NameOf(Priority priority) => PriorityNames[(int)priority];
}
