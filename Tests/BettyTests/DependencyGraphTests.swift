import Testing
import Betty

@Suite struct DependencyGraphTests {
    @Test func twoLevelsHaveOnePathAndOneLeaf() throws {
        let g = try DependencyGraph(problems: ["outer", "inner"], u2l: ["outer": ["inner"]], l2u: ["inner": ["outer"]])
        #expect(g.leaves == ["inner"])
        #expect(g.paths["outer"] == [["outer", "inner", "outer"]])
        #expect(g.parents(of: "inner") == ["outer"])
        #expect(g.children(of: "outer") == ["inner"])
    }

    @Test func threeLevelChainFindsThePathThroughTheMiddle() throws {
        // bottom's loss uses top's parameters (u2l); middle's uses bottom's and top's uses middle's (l2u).
        let g = try DependencyGraph(problems: ["top", "middle", "bottom"],
                                    u2l: ["top": ["bottom"], "middle": ["bottom"]],
                                    l2u: ["bottom": ["middle"], "middle": ["top"]])
        #expect(g.leaves == ["bottom"])
        #expect(g.paths["top"] == [["top", "middle", "bottom", "top"]])
        #expect(g.paths["middle"] == [["middle", "bottom", "middle"]])
    }

    @Test func diamondGivesOnePathPerRoute() throws {
        let g = try DependencyGraph(problems: ["t", "a", "b", "leaf"],
                                    u2l: ["t": ["leaf"]],
                                    l2u: ["leaf": ["a", "b"], "a": ["t"], "b": ["t"]])
        #expect(Set(g.paths["t"]!) == [["t", "a", "leaf", "t"], ["t", "b", "leaf", "t"]])
    }

    @Test func errorsNameTheProblem() {
        #expect(throws: GraphError.duplicateProblem("a")) { try DependencyGraph(problems: ["a", "a"]) }
        #expect(throws: GraphError.unknownProblem("inenr", suggestion: "inner")) {
            try DependencyGraph(problems: ["outer", "inner"], u2l: ["outer": ["inenr"]])
        }
        #expect(throws: GraphError.selfDependency("a")) { try DependencyGraph(problems: ["a"], l2u: ["a": ["a"]]) }
        #expect(throws: GraphError.cycle(["a", "b", "a"])) {
            try DependencyGraph(problems: ["a", "b", "c"], l2u: ["a": ["b"], "b": ["a"]])
        }
        #expect(throws: GraphError.noPath(upper: "outer", lower: "inner")) {
            try DependencyGraph(problems: ["outer", "inner"], u2l: ["outer": ["inner"]])
        }
        #expect("\(GraphError.unknownProblem("inenr", suggestion: "inner"))" == "no problem named 'inenr'; did you mean 'inner'?")
    }

    @Test func closestNameForgivesOneSlipIgnoringCase() {
        let names = ["inner", "outer", "reweight"]
        #expect(closestName(to: "iner", in: names) == "inner")
        #expect(closestName(to: "Inenr", in: names) == "inner", "case and one swapped pair")
        #expect(closestName(to: "rewieght", in: names) == "reweight")
        #expect(closestName(to: "zzz", in: names) == nil)
        #expect(closestName(to: "otuer", in: names, maxDistance: 0) == nil)
    }
}
