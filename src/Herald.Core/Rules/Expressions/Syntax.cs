namespace Herald.Core.Rules.Expressions;

/// <summary>The parsed, not yet type-checked expression tree. Positions are character offsets in the source.</summary>
internal abstract record Syntax(int Position);

internal sealed record LiteralSyntax(int Position, Value Value) : Syntax(Position);

/// <summary>A dotted path such as <c>data.merchant.country</c>; one position per segment.</summary>
internal sealed record PathSyntax(int Position, string[] Segments, int[] SegmentPositions) : Syntax(Position)
{
    public string Text => string.Join('.', Segments);
}

internal sealed record UnarySyntax(int Position, TokenKind Operator, Syntax Operand) : Syntax(Position);

internal sealed record BinarySyntax(int Position, TokenKind Operator, Syntax Left, Syntax Right) : Syntax(Position);

internal sealed record InSyntax(int Position, Syntax Item, IReadOnlyList<LiteralSyntax> List, bool Negated) : Syntax(Position);

internal sealed record CallSyntax(int Position, string Name, IReadOnlyList<Syntax> Arguments) : Syntax(Position);
