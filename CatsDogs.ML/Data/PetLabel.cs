namespace CatsDogs.ML.Data;

/// <summary>The two classes. The numeric values are the binary label the head is trained on (dog = positive).</summary>
public enum PetLabel
{
    /// <summary>A cat (label 0).</summary>
    Cat = 0,

    /// <summary>A dog (label 1, the class whose probability the classifier returns).</summary>
    Dog = 1,
}
